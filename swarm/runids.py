"""Run ids: sortable by time, readable, and safe as file names."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id() -> str:
    """``20261121-143012-a1b2c3``: UTC start time plus six random hex digits."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
