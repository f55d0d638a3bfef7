"""``swarm run --otel`` as a user runs it: a subprocess, the console exporter, the
extra present or absent, and ``import swarm`` paying nothing for any of it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.structure.test_import import loaded_by

EXAMPLE = Path(__file__).parents[2] / "examples" / "plan.yaml"
FAST = "backend:\n  name: simulated\n  simulated: {latency_s: 0.05, jitter: 0}\n"


def swarm(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    plan = tmp_path / "plan.yaml"
    text = EXAMPLE.read_text()
    plan.write_text(text[: text.index("backend:")] + FAST)  # the example, quicker
    full = {**os.environ, **env}
    code = "import sys; from swarm.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "run", str(plan), "--store", "memory://", "-q", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        cwd=tmp_path,
    )


def span_names(stdout: str) -> list[str]:
    return re.findall(r'^    "name": "([^"]+)"', stdout, re.MULTILINE)


def test_otel_with_the_console_exporter_prints_one_span_per_agent(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    done = swarm(
        ["--otel"],
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none"},
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    agents = [a["id"] for a in _agents()]
    names = span_names(done.stdout)
    assert sorted(n for n in names if n.startswith("invoke_agent ")) == sorted(
        ["invoke_agent base", *(f"invoke_agent {a}" for a in agents)]
    )
    assert names.count("invoke_workflow review-swarm") == 1
    assert "succeeded" in done.stdout.splitlines()[-1]


def test_swarm_otel_env_turns_it_on_and_nothing_is_traced_without_it(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none"}
    off = swarm([], {**env, "SWARM_OTEL": ""}, tmp_path)
    assert off.returncode == 0 and span_names(off.stdout) == []
    on = swarm([], {**env, "SWARM_OTEL": "1"}, tmp_path)
    assert on.returncode == 0 and len(span_names(on.stdout)) > len(_agents())


def test_a_bad_exporter_name_is_one_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    done = swarm(["--otel"], {"OTEL_TRACES_EXPORTER": "jaeger"}, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "swarm: error: OTEL_TRACES_EXPORTER='jaeger': expected otlp, console or none "
        "(or a comma list)"
    )


def test_otel_without_the_extra_names_the_extra(tmp_path: Path) -> None:
    """The extra's absence, simulated: ``sys.modules["opentelemetry"] = None`` makes every
    import of it fail as when it is not installed (the interpreter's own rule), in a
    child process so this one keeps it."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("base: {prompt: x}\nagents: [{id: a, prompt: y}]\n" + FAST)
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from swarm.cli import main\n"
        f"sys.exit(main(['run', {str(plan)!r}, '--store', 'memory://', '-q', *sys.argv[1:]]))"
    )
    for args, env in (([], {}), (["--otel"], {}), ([], {"SWARM_OTEL": "1"})):
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SWARM_OTEL": "", **env},
        )
        if not args and not env:
            assert done.returncode == 0, done.stderr  # untraced runs never need the extra
            continue
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            "swarm: error: --otel needs OpenTelemetry, which is not installed: "
            "pip install 'swarm[otel]' (or unset SWARM_OTEL)"
        )


def test_swarm_fork_traces_its_branch_with_otel(tmp_path: Path) -> None:
    """`swarm fork CHECKPOINT --otel`: the branch is a run of its own, traced as one (its
    workflow span and its one agent's), and without --otel nothing is."""
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: otel-fork\nbase: {prompt: x}\nagents: [{id: a, prompt: y}]\n" + FAST)
    code = "import sys; from swarm.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "SWARM_OTEL": "", "OTEL_TRACES_EXPORTER": "console"}
    env["OTEL_METRICS_EXPORTER"] = "none"

    def swarm_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", code, *args, "--store", "sqlite:///store.db"]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )

    assert swarm_cli("run", str(plan), "-q").returncode == 0
    listed = swarm_cli("checkpoints", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    final = next(c for c in json.loads(listed.stdout) if c["kind"] == "final")
    plain = swarm_cli("fork", final["checkpoint_id"], "--prompt", "again", "-q")
    assert plain.returncode == 0, plain.stderr
    assert span_names(plain.stdout) == []
    traced = swarm_cli("fork", final["checkpoint_id"], "--prompt", "again", "-q", "--otel")
    assert traced.returncode == 0, traced.stderr
    names = span_names(traced.stdout)
    assert names.count("invoke_agent a-fork") == 1, names
    assert any(n.startswith("invoke_workflow ") for n in names), names
    assert "succeeded" in traced.stdout.splitlines()[-1]


def test_import_swarm_loads_no_opentelemetry_or_dashboard_module() -> None:
    modules = loaded_by("import swarm")
    heavy = [
        m
        for m in modules
        if m.split(".")[0] in ("opentelemetry", "starlette", "jinja2", "playwright")
        or m.startswith(("swarm.telemetry", "swarm.ui"))
    ]
    assert heavy == []
    # not vacuous: the telemetry package does load OpenTelemetry
    if "opentelemetry" in json.dumps(loaded_by("import swarm.telemetry")):
        return
    pytest.skip("the otel extra is not installed")


def _agents() -> list[dict[str, str]]:
    import yaml

    agents: list[dict[str, str]] = yaml.safe_load(EXAMPLE.read_text())["agents"]
    return agents
