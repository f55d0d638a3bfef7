"""A package's public names, each imported from its module when first asked for (PEP 562).

A layer's ``__init__`` re-exports names from many private modules; importing them all
up front made reading one plan (``swarm validate``) import the store engines, trio and
structlog. With :func:`lazy_exports` the package lists where each name lives, and a
name costs only its own module's imports. The ``import`` lines stay in the package,
under ``TYPE_CHECKING``, for readers and mypy (``tests/structure/test_lazy.py`` keeps
them and the table equal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: A package's table: module (``._name``, in the package) -> the names it exports from there.
Exports = Mapping[str, Sequence[str]]


def lazy_exports(
    package: str, exports: Exports
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` (being imported) for its
    table ``exports``: a name is imported from its module on first access, then kept in
    the package's namespace (looked up once)."""
    where = {name: module for module, names in exports.items() for name in names}
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, not importlib.import_module: `python -X importtime` sees this import.
        value = getattr(__import__(package + module, fromlist=[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
