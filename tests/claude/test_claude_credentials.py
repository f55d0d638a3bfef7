"""Without an API key or a Claude login, the claude backend refuses up front (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.backends import CLAUDE_CREDENTIAL_VARS, check_claude_credentials
from swarm.cli import main
from swarm.errors import BackendUnavailable

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"


@pytest.fixture
def logged_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credential variable and an empty home: the Claude config dir it returns has no login."""
    for name in (*CLAUDE_CREDENTIAL_VARS, "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sys.platform", "linux")
    return tmp_path / "home" / ".claude"


def test_run_without_credentials_exits_2_naming_the_ways_out(
    logged_out: Path, in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm run --backend claude` with no key or login says what to do instead, exit 2."""
    code = main(["run", str(EXAMPLE), "--backend", "claude", "--store", "memory://"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "ANTHROPIC_API_KEY" in err and "--rehearse" in err and "--backend simulated" in err
    assert "Not logged in" not in err


def test_a_key_a_login_or_a_fake_api_pass_the_check(
    logged_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in the CLI env, a login file, or an env pointing at a fake API is enough."""
    with pytest.raises(BackendUnavailable):
        check_claude_credentials(None)
    check_claude_credentials({"ANTHROPIC_BASE_URL": "http://127.0.0.1:1"})  # a rehearsal
    check_claude_credentials({"ANTHROPIC_API_KEY": "k"})
    monkeypatch.setenv("CLAUDE_CODE_USE_BEDROCK", "1")
    check_claude_credentials(None)
    monkeypatch.delenv("CLAUDE_CODE_USE_BEDROCK")
    logged_out.mkdir(parents=True)
    (logged_out / ".credentials.json").write_text("{}")
    check_claude_credentials(None)
    # On macOS the login is in the Keychain, which is not read: never refuse there.
    (logged_out / ".credentials.json").unlink()
    monkeypatch.setattr("sys.platform", "darwin")
    check_claude_credentials(None)
