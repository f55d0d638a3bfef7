"""`swarm run` / `swarm resume` with --engine dask: bad input and an unreachable scheduler
are one `swarm: error:` line each, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from swarm.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def write_plan(folder: Path, store: str, **execution: object) -> Path:
    plan = {
        "base": {"prompt": "p"},
        "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
        "store": {"url": store},
        "execution": execution,
        "agents": [{"id": "a", "prompt": "p"}],
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_an_unreachable_scheduler_is_one_error_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "swarm.db"
    plan = write_plan(tmp_path, f"sqlite:///{db}", dask={"connect_timeout_s": 1})
    code, out = cli(capsys, "run", str(plan), "--dask-address", "tcp://127.0.0.1:1")
    assert code == 2, out
    assert out.count("swarm: error:") == 1, out
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1s" in out
    code, out = cli(capsys, "runs", "list", "--store", f"sqlite:///{db}", "--json")
    assert json.loads(out) in ([], {"runs": []}), out  # nothing was written


def test_a_memory_store_is_refused_with_the_dask_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path, "memory://", engine="dask")
    code, out = cli(capsys, "run", str(plan))
    assert code == 2, out
    assert out.count("swarm: error:") == 1
    assert "memory:// lives in one process" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--engine", "ray"], "expected local or dask"),
        (["--engine", "local", "--dask-address", "tcp://h:8786"], "needs --engine dask"),
    ],
)
def test_engine_options_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    plan = write_plan(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    code, out = cli(capsys, "run", str(plan), *args)
    assert code == 2 and expected in out, out


def test_a_plan_naming_an_unknown_engine_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path, f"sqlite:///{tmp_path / 's.db'}", engine="ray")
    code, out = cli(capsys, "validate", str(plan))
    assert code == 2 and "execution.engine" in out, out


def test_without_dask_the_error_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    plan = write_plan(tmp_path, f"sqlite:///{tmp_path / 's.db'}", engine="dask")
    code, out = cli(capsys, "run", str(plan))
    assert code == 2, out
    assert "install the swarm[distributed] extra" in out
