"""``swarm ui``: a local, read-only web dashboard over a store (the ``ui`` extra:
``pip install 'swarm[ui]'``).

Pages: runs (newest first), a run (its agents live, a timeline, the lineage tree, spend
against the budget), a session (messages with tool uses folded, checkpoints, a diff of
two). It reads the store through :mod:`swarm.timeline`'s browse functions and follows
runs in progress in other processes by polling the store, pushing each change to the
open page over Server-Sent Events. ``import swarm`` never imports this package.
"""

from ._app import POLL_S, SECURITY_HEADERS, TOKEN_COOKIE, Security, create_app
from ._serve import is_loopback, new_token, serve_dashboard
from ._views import (
    RunPage,
    RunRow,
    SessionPage,
    Timeline,
    blocks_of,
    run_page,
    runs_page,
    session_page,
    timeline,
)

__all__ = [
    "POLL_S",
    "SECURITY_HEADERS",
    "TOKEN_COOKIE",
    "RunPage",
    "RunRow",
    "Security",
    "SessionPage",
    "Timeline",
    "blocks_of",
    "create_app",
    "is_loopback",
    "new_token",
    "run_page",
    "runs_page",
    "serve_dashboard",
    "session_page",
    "timeline",
]
