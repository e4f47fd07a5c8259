# -*- test-case-name: tests.test_compat -*-
"""The one door to private names of ftpredis's dependencies (Twisted, pyOpenSSL, txredisapi).

Every use of a dependency's private attribute or a copy of its private code lives in a
module here, one module per topic.  Each shim module declares:

``TESTED_WITH``
    ``{"Twisted": ("24.7.0", "26.10.0"), ...}``: the lowest and newest versions of each
    dependency the shim was run with (``setup.cfg`` bounds each at these).
``PRIVATE_NAMES``
    a tuple of ``("importable.module", "Dotted.attribute.path")`` pairs: every private
    name the shim relies on.  Instance attributes that only exist on live objects are
    checked by the shim's own ``verify_live(obj)`` (when it has one), called by its test.

:func:`verify` resolves every declared name of every shim and raises :class:`CompatError`
naming the missing one; ``tests/test_compat.py`` runs it, so an upgrade that renames a
private name fails the suite loudly instead of degrading at run time.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Iterator, Tuple


class CompatError(RuntimeError):
    """A private name a shim relies on is gone: the dependency changed under us."""


def shims() -> Iterator[object]:
    """Every shim module of this package, imported."""
    for info in pkgutil.iter_modules(__path__):
        yield importlib.import_module(f"{__name__}.{info.name}")


def resolve(module: str, dotted: str) -> object:
    """``module``'s attribute at ``dotted``, or :class:`CompatError` naming what is gone."""
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise CompatError(f"{module} cannot be imported: {e}") from e
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CompatError(f"{module}.{dotted} is gone (no {part!r}): "
                              "the dependency changed; see ftpredis/_compat") from None
    return obj


def verify() -> Tuple[str, ...]:
    """Resolve every shim's PRIVATE_NAMES; return the names checked."""
    checked = []
    for shim in shims():
        for module, dotted in getattr(shim, "PRIVATE_NAMES", ()):
            resolve(module, dotted)
            checked.append(f"{module}.{dotted}")
    return tuple(checked)
