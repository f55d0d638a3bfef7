"""The ``swarm`` command line: :data:`app` composes its commands, :func:`main` runs it."""

from .app import app, main

__all__ = ["app", "main"]
