"""Plans fuzzed with hypothesis: any text or mutated plan gives a Plan or a PlanError, never
another exception; the CLI answers every one with exit 0 or 2 and no traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm.cli import main
from swarm.errors import PlanError
from swarm.plan import Plan, is_safe_id
from swarm.planfile import parse_plan

VALID: dict[str, Any] = {
    "name": "fuzz",
    "base": {"prompt": "shared context"},
    "defaults": {"model": "m", "max_turns": 3, "env": {"A": "1"}},
    "execution": {"max_parallel": 2, "mode": "window", "budget": {"max_tokens": 1000}},
    "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
    "store": {"url": "memory://"},
    "agents": [
        {"id": "a", "prompt": "do a", "priority": "high"},
        {"id": "b", "prompt": "do b", "fork_from": {"agent": "a"}},
    ],
}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["../../etc/passwd", "a/b", "..", "a\x00b", "é", " ", "-1", "latest", "!!x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += paths(value, (*prefix, i))
    return found


@st.composite
def mutated_plans(draw: st.DrawFn) -> dict[str, Any]:
    """The valid plan with 1-3 values replaced, deleted, or given a new sibling."""
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(document)[1:]))
        parent: Any = document
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.append(draw(values))
        if not paths(document)[1:]:
            break
    return document


def check(text: str) -> None:
    try:
        plan = parse_plan(text, "fuzz.yaml")
    except PlanError as exc:
        assert exc.issues and all(issue.file == "fuzz.yaml" for issue in exc.issues)
        assert str(exc)
    else:
        assert isinstance(plan, Plan)


@SETTINGS
@given(mutated_plans())
def test_mutated_plans_are_a_plan_or_a_plan_error(document: dict[str, Any]) -> None:
    """A valid plan with random values replaced, deleted or added never raises anything else."""
    check(yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_is_a_plan_or_a_plan_error(text: str) -> None:
    """Arbitrary text (most of it not YAML at all) is refused with a PlanError."""
    check(text)


YAML_PIECES = st.sampled_from(
    [
        "base:",
        "agents:",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "\n",
        "  ",
        "&a ",
        "*a",
        "!!int ",
        "!!binary ",
        "!!python/object:os.system ",
        "!custom ",
        "? ",
        "|",
        ">",
        "'",
        '"',
        "#",
        "id: x",
        "prompt: p",
        "---",
        "...",
        "%YAML 1.1",
        "<<: *a",
        "!!set ",
        "0x1F",
        "~",
        "1e999",
    ]
)


@SETTINGS
@given(st.lists(YAML_PIECES, max_size=25))
def test_yaml_shaped_junk_is_a_plan_or_a_plan_error(pieces: list[str]) -> None:
    """YAML syntax glued at random (tags, aliases, merges, flow collections) never crashes."""
    check("".join(pieces))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=mutated_plans())
def test_validate_answers_every_mutated_plan_without_a_traceback(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any]
) -> None:
    """`swarm validate` on a mutated plan file exits 0 or 2 and never prints a traceback."""
    path = in_tmp_cwd / "plan.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 2)
    assert (code == 0) == ("swarm: error:" not in err)


@SETTINGS
@given(st.one_of(st.text(max_size=70), st.sampled_from(["../evil", "a/b", "a..b", ".x", "ok-1"])))
def test_plan_names_pass_exactly_when_safe(name: str) -> None:
    """Any plan name is accepted exactly when it is a safe id, and refused at `name` otherwise."""
    try:
        plan = parse_plan(yaml.safe_dump({**VALID, "name": name}), "fuzz.yaml")
    except PlanError as exc:
        assert not is_safe_id(name)
        assert [issue.field for issue in exc.issues] == ["name"]
    else:
        assert is_safe_id(name) and plan.name == name


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=mutated_plans())
def test_validate_json_is_always_one_json_document(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any]
) -> None:
    """`swarm validate --json` prints one JSON document, the plan or its issues, exit 0 or 2."""
    path = in_tmp_cwd / "plan.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    code = main(["validate", str(path), "--json"])
    printed = json.loads(capsys.readouterr().out)
    if code == 2:
        assert printed["valid"] is False and printed["issues"]
        assert all(set(i) == {"file", "line", "field", "message"} for i in printed["issues"])
    else:
        assert code == 0 and "agents" in printed
