"""The checks of a plan that need the store: made before anything of a run is written.

A plan can name an existing session as its base (``base.session``, ``base.at``) and fork
its agents at messages of it (``fork_at``). Whether those exist is a question for the
store, not for the plan's schema; asked only when the base is built, the answer was a
failed run with every agent skipped. :func:`store_problems` asks it first, for
``swarm validate``, ``swarm run`` and :meth:`ParallelSwarmExecutor.run` alike.
"""

from __future__ import annotations

from ..errors import NotFoundError, Remedy
from ..plan import Plan, PlanProblem
from ..stores import Store, history

#: Where in the plan (``("agents", 0, "fork_at")``), what is wrong there, and the way out.
Problem = PlanProblem


def needs_store(plan: Plan) -> bool:
    """Whether the plan names anything the store must hold (an existing base session)."""
    return plan.base.session is not None


async def store_problems(plan: Plan, store: Store, *, backend: str | None) -> list[Problem]:
    """What the plan names that ``store`` does not hold, for a run on ``backend``.

    The claude backend (and a plan naming no backend, which may run on it) can import a
    base session from a Claude Code transcript on this machine, so for it a session the
    store lacks is left to the backend, which says so when the base is opened.
    """
    session_id = plan.base.session
    if session_id is None:
        return []
    if await store.get_session(session_id) is None:
        if backend in (None, "claude"):
            return []
        return [
            PlanProblem(
                ("base", "session"),
                f"no session {session_id!r} in the store; expected the id of a session "
                "an earlier run left there",
                Remedy.LIST_SESSIONS,
            )
        ]
    try:
        uuids = {message.uuid for message in await history(store, session_id)}
    except NotFoundError as exc:  # a parent of it is gone
        return [
            PlanProblem(("base", "session"), f"session {session_id!r} cannot be read whole: {exc}")
        ]
    problems: list[Problem] = []
    if plan.base.at is not None and plan.base.at not in uuids:
        problems.append(
            PlanProblem(
                ("base", "at"), f"message {plan.base.at!r} is not in the history of {session_id}"
            )
        )
    for i, agent in enumerate(plan.agents):
        if agent.fork_at is not None and agent.fork_from is None and agent.fork_at not in uuids:
            problems.append(
                PlanProblem(
                    ("agents", i, "fork_at"),
                    f"message {agent.fork_at!r} is not in the history of the base session "
                    f"{session_id}",
                )
            )
    return problems
