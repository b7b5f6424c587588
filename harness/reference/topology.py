"""Group topologies of the reference server: the CSIP figures' groups as DERPrograms and FunctionSetAssignments.

The CSIP Implementation Guide groups DERs by where they sit on the grid (system, sub-transmission,
substation, feeder, segment, transformer, service point); each group that a utility controls has its own
DERProgram, of a primacy that grows with the group's distance from the DER (the service point's program wins).
An EndDevice reaches the programs of every group on its path to the root through its FunctionSetAssignments
(IEEE 2030.5-2018 FunctionSetAssignments: a DERProgram applies to the EndDevices whose FunctionSetAssignments
link it).

The figures of the SunSpec CSIP Conformance Test Procedures v1.3 built here:

* ``figure-1`` (CORE-010): seven levels SY 10 > ST 9 > SS 8 > FD 7 > SG 6 > TF 5 > SP 4, one
  FunctionSetAssignments whose DERProgramList holds all seven programs;
* ``figure-2`` (BASIC-002): A1 > A1-B1, A1-B2 > … > A1-B1-C1-D1-E1-F1-G1 (Inverter-A), …-G2 (Inverter-B),
  one FunctionSetAssignments per group on the path, each with a DERProgramList of that group's program and a
  TimeLink;
* ``figure-15`` (UTIL-001…): SY > ST > SS > FDA, FDB > SGA, SGB > TFA, TFB > SPA1, SPA2, SPB1, SPB2,
  one FunctionSetAssignments per group, as for figure 2;
* ``figure-16`` (MAINT-005): figure 15's groups with one FunctionSetAssignments per EndDevice holding the seven
  programs of its path, as for figure 1.
* ``figure-3`` (BASIC-004 … BASIC-015): the groups of figure 2 and the non-topology Group-Z (primacy 20); two
  FunctionSetAssignments, a topology one whose DERProgramList holds the seven programs of the service point's
  path and one holding Group-Z's program;
* ``figure-3-groups`` (BASIC-003): the same groups, the transformer's program of the highest priority (4, the
  service points' 5), with the feeder A1-B1-C1-D2 and its nodes besides; one FunctionSetAssignments per group of
  the path and one for Group-Z. ``replace_feeder`` moves a client from one feeder to another.

Figures 2 and 3 share their group programs (figure 3 only adds Group-Z), so a program named A1-B1-C1-D1-E1-F1-G1
is the same one whichever of them built it; figure-3-groups has programs of its own (their primacies differ).

Programs of groups are not listed in the DERProgramList DeviceCapability links (`DerProgram.listed`): a
client reaches them through its FunctionSetAssignments only.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from harness.reference.elements import el, link
from harness.reference.tree import DerProgram, EndDevice, Tree, make_mrid


@dataclass(frozen=True)
class Figure:
    """A topology: each group's parent (None at the root) and program primacy, and how FSAs are laid out."""

    name: str
    groups: dict[str, tuple[str | None, int]]
    service_points: tuple[str, ...]
    one_fsa: bool  # True: one FSA holding every program of the path; False: one FSA per group of the path
    # Groups outside the grid topology (figure 3's Group-Z): each is given to the EndDevice as an FSA of its own.
    extra: tuple[str, ...] = ()
    # Figures drawing the same groups share their programs: figure 3 is figure 2 and Group-Z.
    family: str = ""

    def path(self, group: str) -> list[str]:
        """The groups from the root down to group."""
        chain: list[str] = []
        node: str | None = group
        while node is not None:
            chain.append(node)
            node = self.groups[node][0]
        return chain[::-1]


def _figure_2() -> dict[str, tuple[str | None, int]]:
    groups: dict[str, tuple[str | None, int]] = {"A1": (None, 10)}
    for name, primacy in (("A1-B1", 9), ("A1-B2", 9), ("A1-B1-C1", 8), ("A1-B1-C2", 8), ("A1-B1-C1-D1", 7),
                          ("A1-B1-C2-D1", 7), ("A1-B1-C1-D1-E1", 6), ("A1-B1-C1-D1-E1-F1", 5),
                          ("A1-B1-C1-D1-E1-F1-G1", 4), ("A1-B1-C1-D1-E1-F1-G2", 4)):
        groups[name] = (name.rsplit("-", 1)[0], primacy)
    return groups


def _figure_3_groups() -> dict[str, tuple[str | None, int]]:
    """Figure 3 as BASIC-003 sets it up: the transformer's program (F1) of the highest priority (primacy 4), the
    service points' next (5); and the feeder A1-B1-C1-D2 with the nodes below it, which replace-feeder gives a
    client in place of A1-B1-C1-D1 and its nodes."""
    level = {1: 10, 2: 9, 3: 8, 4: 7, 5: 6, 6: 4, 7: 5}
    names = [group for group in _figure_2() if group != "A1-B1-C1-D1-E1-F1-G2"]
    names += ["A1-B1-C1-D1-E1-F1-G2", "A1-B1-C1-D2", "A1-B1-C1-D2-E1", "A1-B1-C1-D2-E1-F1", "A1-B1-C1-D2-E1-F1-G1"]
    groups: dict[str, tuple[str | None, int]] = {}
    for name in names:
        depth = name.count("-") + 1
        groups[name] = (name.rsplit("-", 1)[0] if depth > 1 else None, level[depth])
    groups["Group-Z"] = (None, 20)
    return groups


FIGURES: dict[str, Figure] = {
    "figure-1": Figure(
        "figure-1",
        {"SY": (None, 10), "ST": ("SY", 9), "SS": ("ST", 8), "FD": ("SS", 7), "SG": ("FD", 6), "TF": ("SG", 5),
         "SP": ("TF", 4)},
        ("SP",),
        one_fsa=True,
    ),
    "figure-2": Figure("figure-2", _figure_2(), ("A1-B1-C1-D1-E1-F1-G1", "A1-B1-C1-D1-E1-F1-G2"), one_fsa=False),
    "figure-3": Figure("figure-3", {**_figure_2(), "Group-Z": (None, 20)},
                       ("A1-B1-C1-D1-E1-F1-G1", "A1-B1-C1-D1-E1-F1-G2"), one_fsa=True, extra=("Group-Z",),
                       family="figure-2"),
    "figure-3-groups": Figure("figure-3-groups", _figure_3_groups(),
                              ("A1-B1-C1-D1-E1-F1-G1", "A1-B1-C1-D1-E1-F1-G2", "A1-B1-C1-D2-E1-F1-G1"),
                              one_fsa=False, extra=("Group-Z",)),
    "figure-15": Figure(
        "figure-15",
        {"SY": (None, 10), "ST": ("SY", 9), "SS": ("ST", 8), "FDA": ("SS", 7), "FDB": ("SS", 7),
         "SGA": ("FDA", 6), "SGB": ("FDB", 6), "TFA": ("SGA", 5), "TFB": ("SGB", 5), "SPA1": ("TFA", 4),
         "SPA2": ("TFA", 4), "SPB1": ("TFB", 4), "SPB2": ("TFB", 4)},
        ("SPA1", "SPA2", "SPB1", "SPB2"),
        one_fsa=False,
    ),
}
# figure-16 (the MAINT procedures' aggregator topology): figure 15's groups, programs of their own, and each
# EndDevice with one FunctionSetAssignments whose DERProgramList holds the seven programs of its path, so a
# change of primacy shows in one list's order (CSIP MAINT-005).
FIGURES["figure-16"] = Figure("figure-16", dict(FIGURES["figure-15"].groups), FIGURES["figure-15"].service_points,
                              one_fsa=True)


@dataclass
class Fsa:
    """One FunctionSetAssignments of an EndDevice: its identity and the DERPrograms its DERProgramList holds."""

    index: int
    mrid: str
    description: str
    programs: list[int]  # indices into Tree.programs
    time_link: bool = True


class TopologyError(ValueError):
    """A topology request the server cannot carry out: an unknown figure, group or EndDevice."""


def group_program(tree: Tree, figure: Figure, group: str) -> DerProgram:
    """The DERProgram of a group, created (with no control or curve) the first time it is asked for."""
    family = figure.family or figure.name
    mrid = make_mrid("topology", family, group)
    for program in tree.programs.values():
        if program.mrid == mrid:
            # Building again restores the figure's primacy (set-primacy may have changed it): an ensure.
            program.primacy = figure.groups[group][1]
            return program
    index = max(tree.programs, default=0) + 1
    program = DerProgram(index=index, mrid=mrid, description=group, primacy=figure.groups[group][1],
                         default_mrid=make_mrid("topology-dderc", family, group), listed=False)
    tree.programs[index] = program
    return program


def build_topology(tree: Tree, name: str, device: EndDevice | None, service_point: str | None) -> list[Fsa]:
    """Build a figure's group programs and give device the FunctionSetAssignments of service_point's path.

    Every group's program is made, so the whole topology exists; the device (when given) then holds exactly the
    FSAs of its path, whatever it held before, so building twice leaves the server as building once.
    Raises TopologyError for an unknown figure or service point.
    """
    figure = FIGURES.get(name)
    if figure is None:
        raise TopologyError(f"no topology {name!r}; known: {', '.join(FIGURES)}")
    point = service_point or figure.service_points[0]
    if point not in figure.service_points:
        raise TopologyError(f"{name} has no service point {point!r}; its service points: "
                            f"{', '.join(figure.service_points)}")
    programs = {group: group_program(tree, figure, group) for group in figure.groups}
    if device is None:
        return []
    path = figure.path(point)
    if figure.one_fsa:
        device.fsas = [Fsa(1, make_mrid("fsa", figure.name, point, device.index), f"{name} {point}",
                           [programs[g].index for g in path])]
    else:
        device.fsas = [Fsa(i, make_mrid("fsa", figure.name, group, device.index), group, [programs[group].index])
                       for i, group in enumerate(path, start=1)]
    for group in figure.extra:
        device.fsas.append(Fsa(len(device.fsas) + 1, make_mrid("fsa", figure.name, group, device.index), group,
                               [programs[group].index]))
    device.topology = (figure.name, point)
    return device.fsas


def replace_feeder(tree: Tree, device: EndDevice, remove: str, add: str) -> list[Fsa]:
    """Move device from the feeder remove to the feeder add: the FSAs of remove and every node below it on the
    device's path are replaced by those of add and its nodes (BASIC-003 step 3).

    FSAs that stay keep their hrefs; the new ones get hrefs never used by this device, so a client holding a
    removed FSA's href gets 404. Doing it again changes nothing. Raises TopologyError when the device has no
    topology, or remove is not on its path and add not already in its place.
    """
    if device.topology is None:
        raise TopologyError(f"/edev/{device.index} has no topology; build one first (build-topology)")
    name, point = device.topology
    if point.startswith(add + "-") or point == add:
        return device.fsas
    if not (point.startswith(remove + "-") or point == remove):
        raise TopologyError(f"{remove} is not on the path of /edev/{device.index} (service point {point})")
    new_point = add + point[len(remove):]
    before = {fsa.mrid: fsa.index for fsa in device.fsas}
    used = max(before.values(), default=0)
    fsas = build_topology(tree, name, device, new_point)
    for fsa in fsas:
        if fsa.mrid in before:
            fsa.index = before[fsa.mrid]
        else:
            used += 1
            fsa.index = used
    return fsas


def assign_fsas(tree: Tree, device: EndDevice, count: int) -> list[Fsa]:
    """Give device count FunctionSetAssignments, each with a DERProgramList of three programs of its own.

    FSA k's programs: two of primacy 65 + k that differ only by mRID, and one of primacy 80 + k (user-defined
    primacies, 2030.5-2018 PrimacyType 65-191), so a client must order them by primacy and then by mRID.
    """
    fsas = []
    for k in range(1, count + 1):
        indices = []
        for j, primacy in enumerate((65 + k, 65 + k, 80 + k), start=1):
            mrid = make_mrid("fsa-program", device.index, k, j)
            found = next((p for p in tree.programs.values() if p.mrid == mrid), None)
            if found is None:
                index = max(tree.programs, default=0) + 1
                found = DerProgram(index=index, mrid=mrid, description=f"FSA {k} program {j}", primacy=primacy,
                                   default_mrid=make_mrid("fsa-program-dderc", device.index, k, j), listed=False)
                tree.programs[index] = found
            indices.append(found.index)
        fsas.append(Fsa(k, make_mrid("fsa", "assigned", device.index, k), f"FSA {k}", indices))
    device.fsas = fsas
    return fsas


def ordered_fsas(device: EndDevice) -> list[Fsa]:
    """The device's FSAs in FunctionSetAssignmentsList order.

    IEEE 2030.5-2018 keys the FunctionSetAssignmentsList on mRID; this server orders it by mRID descending, as
    for every list whose key is an mRID (the DERProgramList's and DERControlList's secondary key).
    """
    return sorted(device.fsas, key=lambda f: f.mrid, reverse=True)


def fsa_programs(tree: Tree, fsa: Fsa, *, reverse: bool = False) -> list[DerProgram]:
    """The DERPrograms of an FSA's DERProgramList, in DERProgramList order: primacy ascending, then mRID descending.

    IEEE 2030.5-2018 DER function set: a DERProgramList is ordered by primacy, the lowest value (highest
    priority) first, then by mRID (descending, as the secondary mRID key of the DERControlList). reverse gives
    the wrong order the fsa-derp-list-wrong-order defect serves.
    """
    by_mrid = sorted((tree.programs[i] for i in fsa.programs), key=lambda p: p.mrid, reverse=True)
    programs = sorted(by_mrid, key=lambda p: p.primacy)  # stable: equal primacies stay mRID descending
    return programs[::-1] if reverse else programs


def render_fsa(device: EndDevice, fsa: Fsa, program_count: int, *, time_link: bool = True) -> etree._Element:
    """A FunctionSetAssignments: its DERProgramListLink (program_count items) and TimeLink."""
    base = f"/edev/{device.index}/fsa/{fsa.index}"
    return el(
        "FunctionSetAssignments",
        link("DERProgramListLink", f"{base}/derp", program_count),
        link("TimeLink", "/tm") if time_link and fsa.time_link else None,
        el("mRID", text=fsa.mrid),
        el("description", text=fsa.description),
        href=base,
        subscribable="0",
    )
