"""Error classification, cost deltas and tool options of the claude backend (no CLI needed)."""

from __future__ import annotations

from typing import Any

import pytest
from claude_agent_sdk import ResultMessage

from swarm.backends.claude import tool_fields
from swarm.backends.claude._messages import own_cost, result_error
from swarm.errors import APIError, BackendError, TransientAPIError


@pytest.mark.parametrize(
    ("data", "kind", "transient", "status"),
    [
        ({"api_error_status": 429, "result": "API Error: 429"}, None, True, 429),
        ({"api_error_status": 529, "result": "overloaded"}, None, True, 529),
        ({"api_error_status": 500, "result": "boom"}, None, True, 500),
        ({"api_error": "connection_failed", "result": "ECONNREFUSED"}, None, True, None),
        ({"terminal_reason": "api_error", "result": "dropped"}, "server_error", True, None),
        ({"api_error_status": 400, "result": "bad request"}, "invalid_request", False, 400),
        ({"api_error_status": 401, "result": "bad key"}, None, False, 401),
    ],
)
def test_results_map_to_transient_or_final_api_errors(
    data: dict[str, Any], kind: str | None, transient: bool, status: int | None
) -> None:
    """429, 529, 5xx and lost connections are transient; 400 and 401 are final."""
    error = result_error({"subtype": "success", "is_error": True, **data}, kind)
    assert isinstance(error, APIError)
    assert isinstance(error, TransientAPIError) is transient
    assert error.status == status
    assert str(data["result"]) in str(error)


def test_max_turns_is_a_backend_error_not_an_api_error() -> None:
    """Running out of turns fails the agent with a reason that names max_turns."""
    error = result_error({"subtype": "error_max_turns", "num_turns": 4})
    assert type(error) is BackendError and "max_turns (4)" in str(error)


def _result(total: float, own: int, cumulative: int) -> ResultMessage:
    return ResultMessage(
        subtype="success",
        duration_ms=1,
        duration_api_ms=1,
        is_error=False,
        num_turns=1,
        session_id="s",
        total_cost_usd=total,
        usage={"input_tokens": own},
        model_usage={"m": {"inputTokens": cumulative}},
    )


def test_own_cost_subtracts_what_the_parent_carried() -> None:
    """A fork's cost is the total minus its parent's; a fresh session's is the total."""
    assert own_cost(_result(0.05, 100, 100), None) == 0.05
    assert own_cost(_result(0.05, 100, 100), 0.04) == 0.05  # nothing carried: ignore parent
    assert own_cost(_result(0.05, 100, 400), 0.04) == pytest.approx(0.01)
    assert own_cost(_result(0.08, 100, 400), None) == pytest.approx(0.02)  # token share


def test_allowed_tools_become_the_cli_tool_set_by_bare_name() -> None:
    """Rules like ``Bash(git diff:*)`` offer their tool by name and stay pre-approved as given."""
    fields = tool_fields(["Bash(git diff:*)", "Read", "Bash(ls:*)"])
    assert fields == {
        "tools": ["Bash", "Read"],
        "allowed_tools": ["Bash(git diff:*)", "Read", "Bash(ls:*)"],
    }
    assert tool_fields([]) == {"tools": [], "allowed_tools": []}  # no tools at all
