"""Spacing out the interpreter's young-generation collections while a run executes.

CPython collects its youngest generation every 700 net allocations of container
objects. A run of many short agents allocates a few hundred per agent, and keeps what
the journal staged and every agent's record alive meanwhile, so those collections
(and the older ones they trigger) traverse more each time and find almost nothing to
free: with thousands of agents a second they took a sixth of the trio thread
(docs/speed.md). Reference counting still frees everything that is not in a cycle at
once; cycles wait for a later collection, at most ``threshold`` allocations later.
The executor applies it to a whole run or resume: building, encoding and storing a
large plan's records at the start are as many allocations again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_raised = 0  # runs of this process in the block now (runs may nest or overlap)
_before: tuple[int, ...] | None = None


@contextmanager
def spaced_collections(threshold: int | None) -> Iterator[None]:
    """Raise the young generation's threshold to ``threshold`` for the block (when it is
    lower), and put back what it was when the last run of the process leaves it;
    ``None`` leaves the collector alone."""
    global _raised, _before
    current = gc.get_threshold()
    if threshold is None or (_raised == 0 and current[0] >= threshold):
        yield
        return
    if _raised == 0:
        _before = current
        gc.set_threshold(threshold, *current[1:])
    _raised += 1
    try:
        yield
    finally:
        _raised -= 1
        if _raised == 0 and _before is not None:
            gc.set_threshold(*_before)
            _before = None
