"""Plans fuzzed with hypothesis: any text or mutated plan gives a Plan or a PlanError, never
another exception; the CLI answers every one with exit 0 or 2 and no traceback; store URLs
are judged alike by validation and by the store; `validate` and `run` agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm._names import is_safe_id
from swarm.cli import main
from swarm.errors import PlanError
from swarm.plan import Plan, parse_plan
from swarm.stores import StoreURLError, parse_store_url

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


# --- store URLs, and `validate` against `run` -------------------------------------------

URL_PREFIXES = st.sampled_from(
    [
        "sqlite:///",
        "SQLite:///",
        "sqlite://",
        "sqlite:////{tmp}/",
        "",
        "memory://",
        "memory:",
        "junk://",
        "sqlite:",
        "sqlite:/",
        "sqlite://[",
        "postgresql://user:pw@host/",
        " ",
    ]
)
URL_PATHS = st.sampled_from(
    ["x.db", "sub/y.db", ".", "", "dir", "dir/", "afile/z.db", "..", "a\x01.db", "é b#c.db", "x "]
)
URL_OPTIONS = st.lists(
    st.tuples(
        st.sampled_from(["mode", "synchronous", "max_size_mb", "colour", ""]),
        st.sampled_from(["rw", "off", "FULL", "x", "", "-1", "0", "1000", "inf", "nan", "1e3"]),
    ),
    max_size=3,
)


@st.composite
def store_urls(draw: st.DrawFn) -> str:
    """Store URLs made of odd schemes, paths and options; `{tmp}` is the test's directory."""
    url = draw(URL_PREFIXES) + draw(URL_PATHS)
    options = draw(URL_OPTIONS)
    if options or draw(st.booleans()):
        url += "?" + "&".join(f"{k}={v}" if k or v else "" for k, v in options)
    return url


def _workdir(path: Path) -> None:
    (path / "dir").mkdir(exist_ok=True)
    (path / "afile").write_text("not a directory")


def _run_agrees_with_validate(argv_tail: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`swarm validate` and `swarm run` on the same plan: validate 0 means run does not
    refuse the plan; validate 2 means run refuses it with the same error lines, before
    anything runs. Neither prints a traceback."""
    validated = main(["validate", *argv_tail])
    v_out, v_err = capsys.readouterr()
    ran = main(["--log-level", "error", "run", *argv_tail, "-q"])
    r_out, r_err = capsys.readouterr()
    assert "Traceback" not in v_out + v_err + r_out + r_err
    assert validated in (0, 2)
    if validated == 0 and "no Claude credentials were found" in v_err:
        # A valid plan for the claude backend on a machine without credentials: validate
        # passes it and says run would stop, and run stops before anything runs.
        assert ran == 2 and "credentials" in r_err, r_err
    elif validated == 0:
        assert ran in (0, 1) and "swarm: error:" not in r_err, r_err
    else:
        assert ran == 2 and r_err == v_err, (v_err, r_err)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(url=store_urls())
def test_store_urls_are_judged_alike_by_validate_run_and_open_store(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Any store URL is a StoreURL or a StoreURLError (never another exception); the plan
    is valid exactly when the URL parses; and `validate` and `run` agree on it."""
    url = url.replace("{tmp}", str(in_tmp_cwd).lstrip("/"))
    _workdir(in_tmp_cwd)
    try:
        parse_store_url(url)
    except StoreURLError as exc:
        parsed = False
        # Never the URL echoed (it may hold a password); the examples a problem gives
        # (sqlite:///path/to/file.db, memory://) may hold a short URL by chance, and a
        # blank or one- to three-character one (" ", "a") is in any sentence.
        shown = exc.problem.replace("sqlite:///path/to/file.db", "").replace("memory://", "")
        assert exc.problem and (len(url.strip()) < 4 or url not in shown)
    else:
        parsed = True
    document = {**VALID, "store": {"url": url}}
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        parse_plan(text, "fuzz.yaml")
    except PlanError as exc:
        assert not parsed and [i.field for i in exc.issues] == ["store.url"]
    else:
        assert parsed
    (in_tmp_cwd / "plan.yaml").write_text(text, encoding="utf-8")
    if parsed and parse_store_url(url).is_postgres:
        # A PostgreSQL server no test runs here: validate passes the URL (it cannot know
        # the server), run fails on connecting, with one line that masks the password.
        assert main(["validate", "plan.yaml"]) == 0
        ran = main(["--log-level", "error", "run", "plan.yaml", "-q"])
        out, err = capsys.readouterr()
        assert ran == 1 and err.count("swarm: error:") == 1, err
        assert ":pw@" not in out + err and "Traceback" not in out + err
        return
    _run_agrees_with_validate(["plan.yaml"], capsys)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=mutated_plans())
def test_validate_and_run_agree_on_mutated_plans(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any]
) -> None:
    """What `validate` passes, `run` does not refuse (exit 0 or 1: agents may fail), and
    what it refuses, `run` refuses with the same lines, before anything runs."""
    if isinstance(document.get("store"), dict):
        document["store"]["url"] = "memory://"  # never a file where a mutation points
    config = in_tmp_cwd / "config.yaml"  # no latency, whatever the mutation deleted
    config.write_text(
        "backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}\n"
        "store: {url: 'memory://'}\n"
    )
    (in_tmp_cwd / "plan.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    _run_agrees_with_validate(["plan.yaml", "--config", str(config)], capsys)
