"""The CSIP v1.3 procedure catalogue (ids, titles, sections, roles, §4 conformance matrix, errata)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Columns of the §4 conformance matrix, by the DUT kind they apply to.
MATRIX_COLUMNS = {
    "der_client": "required_der_client",
    "aggregator_client": "required_aggregator_client",
    "server": "required_server",
}


@dataclass(frozen=True)
class Procedure:
    """One CSIP conformance test procedure."""

    id: str
    title: str
    section: str
    dut_roles: tuple[str, ...]
    required_for: tuple[str, ...]
    errata: tuple[int, ...]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@cache
def procedures() -> dict[str, Procedure]:
    """Every procedure of the catalogue, by id, in catalogue order."""
    text = resources.files(__name__).joinpath("procedures.csv").read_text(encoding="utf-8")
    catalogue: dict[str, Procedure] = {}
    for row in csv.DictReader(io.StringIO(text)):
        catalogue[row["id"]] = Procedure(
            id=row["id"],
            title=row["title"],
            section=row["section"],
            dut_roles=_split(row["dut_roles"]),
            required_for=tuple(kind for kind, column in MATRIX_COLUMNS.items() if row[column].strip() == "X"),
            errata=tuple(int(n) for n in _split(row["errata"])),
        )
    return catalogue


def for_role(role: str) -> list[Procedure]:
    """The procedures that apply to a DUT of this role ('server', 'client' or 'aggregator')."""
    return [p for p in procedures().values() if role in p.dut_roles]
