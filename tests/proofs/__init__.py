"""The proofs of the server cases, one module per family: each defines PROOFS and may define FRESH_SERVER.

A case may be proven in several modules (its first cases in one, a later step's defect in another); the same
defect proven twice for one case is an authoring mistake and stops the import.
"""

from __future__ import annotations

import importlib
import pkgutil

PROOFS: dict[str, dict[str, tuple[int, str]]] = {}
FRESH_SERVER: set[str] = set()
for _module in pkgutil.iter_modules(__path__):
    _proofs = importlib.import_module(f"{__name__}.{_module.name}")
    _twice = sorted(f"{case} under {defect}" for case, defects in _proofs.PROOFS.items()
                    for defect in defects if defect in PROOFS.get(case, {}))
    if _twice:
        raise ImportError(f"tests/proofs/{_module.name}.py proves {_twice} again")
    for _case, _defects in _proofs.PROOFS.items():
        PROOFS.setdefault(_case, {}).update(_defects)
    FRESH_SERVER |= set(getattr(_proofs, "FRESH_SERVER", ()))

__all__ = ["FRESH_SERVER", "PROOFS"]
