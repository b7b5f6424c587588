"""The reference server's indexed lookups answer exactly as a scan of every EndDevice and mirror would.

A random history of registrations (duplicate LFDIs and SFDIs included, as the edev-duplicate-lfdi and
mup-duplicate-mrid defects allow), deletions, lFDIs learnt late, aggregators taken over and mirrors created and
deleted; after each change every lookup, the scope of every identity and the lists each one sees are compared
with the scan the server did before it kept indexes.
"""

from __future__ import annotations

import random

import pytest
from lxml import etree

from harness.reference.access import scope_for
from harness.reference.defects import Defects
from harness.reference.metering import Mirror
from harness.reference.render import Renderer
from harness.reference.tree import EndDevice, Tree

LFDIS = [f"{n:040X}" for n in range(1, 7)]
MRIDS = [f"{n:032X}" for n in range(1, 5)]


def scan_lfdi(tree: Tree, value: str) -> EndDevice | None:
    return next((d for d in tree.end_devices.values() if d.lfdi and d.lfdi.upper() == value.upper()), None)


def scan_visible(tree: Tree, lfdi: str | None, defects: Defects) -> list[int]:
    scope = scope_for(tree, lfdi, defects)
    ordered = tree.end_devices_ordered(ascending="edev-list-wrong-order" in defects)
    return [d.index for d in ordered if scope.may_access_end_device(d.index)]


def scan_mirrors(tree: Tree, lfdi: str | None, defects: Defects) -> list[int]:
    scope = scope_for(tree, lfdi, defects)
    ordered = sorted(tree.mirrors.values(), key=lambda m: m.mrid)
    return [m.index for m in ordered if scope.may_access_mirror(m.owner_lfdi)]


def step(tree: Tree, rng: random.Random, now: int) -> None:
    action = rng.choice(["add", "add", "add", "remove", "learn", "aggregate", "mirror", "mirror", "unmirror"])
    devices = list(tree.end_devices.values())
    if action == "add" or not devices:
        lfdi = rng.choice([*LFDIS, None])
        tree.add_end_device(rng.randint(1, 4), lfdi, now - rng.randint(0, 3), 111115, preregistered=False)
    elif action == "remove":
        tree.remove_end_device(rng.choice(devices).index)
    elif action == "learn":
        unnamed = [d for d in devices if d.lfdi is None]
        if unnamed:
            tree.set_lfdi(rng.choice(unnamed), rng.choice(LFDIS).lower())
    elif action == "aggregate":
        tree.set_aggregator(rng.choice(devices), rng.choice([*LFDIS[:2], None]))
    elif action == "mirror":
        index = tree.next_mirror
        tree.next_mirror += 1
        tree.add_mirror(Mirror(index, rng.choice(MRIDS), rng.choice([*LFDIS, None]), now, etree.Element("h"),
                               etree.Element("p")))
    elif tree.mirrors:
        tree.remove_mirror(rng.choice(list(tree.mirrors)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("defect_names", [(), ("edev-list-wrong-order", "edev-not-scoped", "mup-not-scoped")])
def test_indexed_lookups_scopes_and_lists_answer_as_a_scan(seed: int, defect_names: tuple[str, ...]) -> None:
    rng = random.Random(seed)
    defects = Defects(defect_names)
    tree = Tree(start_time=1_700_000_000, tz_offset=0)
    render = Renderer(tree, defects)
    for round_number in range(150):
        step(tree, rng, 1_700_000_000 + round_number // 10)
        for value in [*LFDIS, LFDIS[0].lower()]:
            assert tree.device_by_lfdi(value) is scan_lfdi(tree, value)
            assert [d.index for d in tree.aggregated_by(value)] == [
                d.index for d in tree.end_devices.values() if d.aggregator == value]
            assert tree.mirrors_of(value) == [m for m in tree.mirrors.values() if m.owner_lfdi == value]
        for number in range(1, 5):
            assert tree.device_by_sfdi(number) is next((d for d in tree.end_devices.values() if d.sfdi == number),
                                                       None)
        for mrid in [*MRIDS, MRIDS[0].lower()]:
            assert tree.mirror_by_mrid(mrid) is next((m for m in tree.mirrors.values() if m.mrid == mrid.upper()),
                                                     None)
        for lfdi in [*LFDIS, None]:
            scope = scope_for(tree, lfdi, defects)
            assert [d.index for d in render.visible_end_devices(scope)] == scan_visible(tree, lfdi, defects)
            assert [m.index for m in render.visible_mirrors(scope)] == scan_mirrors(tree, lfdi, defects)
    assert len(tree.end_devices) > 5 and tree.mirrors  # the history built something to look up
