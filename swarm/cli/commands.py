"""Imports every command module so each registers itself on the app."""

from . import (  # noqa: F401
    bench,
    checkpoints,
    inspect,
    mock_api,
    resume,
    retention,
    run,
    sessions,
    store,
)
