"""A dry run of a case against a DUT profile: would it run, or be not applicable, and why; nothing is sent.

The same rules as a run (harness.engine.runner): a case for another role, or whose `requires:` the profile's
capabilities do not satisfy, is not applicable; so is one needing a DUT-side action the profile does not map.
Steps whose own `requires:` is unmet are named (they would be not applicable); `when:` conditions depend on
what the DUT answers and cannot be judged without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.cases.model import Case, DutProfile
from harness.cases.requires import unmet


@dataclass(frozen=True)
class Plan:
    """What a run would do with one case: runs (bool), the reason when it would not, and notes."""

    runs: bool
    reason: str = ""
    notes: list[str] = field(default_factory=list)


def plan_case(case: Case, profile: DutProfile) -> Plan:
    """Whether the case would run against a DUT with this profile, and why not."""
    if case.role != profile.role:
        return Plan(False, f"case is for {case.role} DUTs; the DUT profile declares role {profile.role}")
    missing = unmet(list(case.requires), profile.capabilities)
    if missing:
        return Plan(False, "the DUT profile does not declare: " + "; ".join(missing))
    calls = [*case.setup, *(step.action for step in case.steps if step.action is not None
                            and not unmet(list(step.requires), profile.capabilities))]
    unmapped = sorted({call.name for call in calls if call.name not in profile.actions})
    if unmapped:
        return Plan(False, f"the DUT profile maps no way to carry out the action{'s' if len(unmapped) > 1 else ''} "
                           f"{', '.join(map(repr, unmapped))} (add it under 'actions:' in the profile)")
    notes = []
    for name in sorted({call.name for call in calls}):
        mapping = profile.actions[name]
        note = f"action {name!r} through its {mapping.kind} mapping"
        if mapping.kind == "operator" and not mapping.config.get("acknowledged"):
            note += " (a person answers a prompt; an unattended run counts it only when pre-acknowledged)"
        notes.append(note)
    for step in case.steps:
        missing = unmet(list(step.requires), profile.capabilities)
        if missing:
            notes.append(f"step {step.index} would be not applicable: the DUT profile does not declare: "
                         + "; ".join(missing))
    return Plan(True, notes=notes)
