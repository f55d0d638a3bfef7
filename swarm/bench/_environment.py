"""Where a benchmark ran: machine, versions and git commit, recorded with every report."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("swarm", "trio", "claude-agent-sdk", "anthropic", "pydantic", "matplotlib")


def _run(command: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.virtual_memory().total / 2**30, 1)


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def claude_cli_version() -> str | None:
    """The bundled Claude Code CLI's ``--version`` (about 0.3 s), if it is installed."""
    try:
        import claude_agent_sdk
    except ImportError:
        return None
    cli = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return _run([str(cli), "--version"]) if cli.exists() else None


def git_state(root: Path | None = None) -> dict[str, Any]:
    """The commit the working tree is at and whether it has local changes."""
    root = root or Path(__file__).resolve().parents[2]
    commit = _run(["git", "rev-parse", "HEAD"], root)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], root)
    return {"commit": commit, "dirty": bool(status)}


def environment(*, with_cli: bool) -> dict[str, Any]:
    """Machine, versions and git state for a report."""
    versions = _versions()
    if with_cli:
        versions["claude-code-cli"] = claude_cli_version()
    return {
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "memory_gb": _memory_gb(),
        },
        "versions": versions,
        "git": git_state(),
    }
