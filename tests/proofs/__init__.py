"""The proofs of the server cases, one module per family: each defines PROOFS and may define FRESH_SERVER.

A case id proven in two modules is an authoring mistake and stops the import.
"""

from __future__ import annotations

import importlib
import pkgutil

PROOFS: dict[str, dict[str, tuple[int, str]]] = {}
FRESH_SERVER: set[str] = set()
for _module in pkgutil.iter_modules(__path__):
    _proofs = importlib.import_module(f"{__name__}.{_module.name}")
    _twice = set(PROOFS) & set(_proofs.PROOFS)
    if _twice:
        raise ImportError(f"tests/proofs/{_module.name}.py proves {sorted(_twice)} again")
    PROOFS.update(_proofs.PROOFS)
    FRESH_SERVER |= set(getattr(_proofs, "FRESH_SERVER", ()))

__all__ = ["FRESH_SERVER", "PROOFS"]
