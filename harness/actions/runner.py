"""Carries out a case's setup actions through the DUT profile's mappings and records each one."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pluggy

from harness.actions.executors import EXECUTORS, ActionFailed
from harness.actions.registry import params_problems, registry, returns_problems
from harness.cases.model import ActionCall, ActionMapping, DutProfile
from harness.cases.variables import VariableError, substitute
from harness.redact import Masker, profile_secrets
from harness.results import ACTION_DONE, ACTION_FAILED, ACTION_UNMAPPED, ActionRecord


def describe_mapping(mapping: ActionMapping, masker: Masker | None = None) -> str:
    """A short, unsubstituted description of a mapping for results and messages, secrets masked.

    Templates are shown as written (`http PUT ${admin_url}/time`); a literal URL password or secret-named
    query value in them is masked with masker's rules (harness.redact), or with the rules alone when None.
    """
    config = mapping.config
    if mapping.kind == "http":
        # An observation reads (GET by default), an action changes something (POST by default).
        spec = registry().get(mapping.action)
        default = "GET" if spec is not None and spec.kind == "observation" else "POST"
        text = f"http {str(config.get('method', default)).upper()} {config['url']}"
        if config.get("cert"):
            text += f" with client certificate {Path(str(config['cert'])).name}"
    elif mapping.kind == "command":
        text = "command " + " ".join(config["argv"])
    elif mapping.kind == "operator":
        text = "operator (pre-acknowledged)" if config.get("acknowledged") else "operator prompt"
    else:
        text = mapping.kind
    return (masker or Masker()).prose(text)


class ActionRunner:
    """The profile's action mappings and what they need: variables, plugins, whether a person is present."""

    def __init__(self, profile: DutProfile, run_variables: dict[str, Any], *, unattended: bool,
                 plugins: pluggy.PluginManager | None = None) -> None:
        self.profile = profile
        self.unattended = unattended
        self.plugins = plugins
        self.env = dict(os.environ)
        # Profile variables may draw on the environment (so tokens stay out of profile files); they are
        # filled in when an action needs them, so a missing one fails that action, not the whole run.
        self.declared = {k: v for k, v in profile.variables.items() if k not in run_variables}
        self.run_variables = dict(run_variables)
        # The run's secrets, masked in every action record; the session masks the rest of the evidence with it.
        self.masker = profile_secrets(self.declared, self.run_variables,
                                      [m.config for m in profile.actions.values()], self.env)

    def unmapped(self, calls: Iterable[ActionCall]) -> list[str]:
        """Names of the actions among calls that the profile gives no way to carry out."""
        return sorted({call.name for call in calls if call.name not in self.profile.actions})

    def unmapped_record(self, call: ActionCall) -> ActionRecord:
        """The record of an action the case needed and the profile does not map."""
        return ActionRecord(call.name, self.masker.settings(dict(call.params)), "none", ACTION_UNMAPPED,
                            "the DUT profile has no mapping for this action", time.time())

    async def carry_out(self, call: ActionCall, case_variables: dict[str, Any]) -> ActionRecord:
        """Carry out one action; the record's outcome is done or failed, never an exception.

        The record's parameters, mapping and detail have the run's secrets masked (harness.redact).
        """
        mapping = self.profile.actions[call.name]
        record = ActionRecord(call.name, dict(call.params), describe_mapping(mapping, self.masker), ACTION_FAILED,
                              started=time.time())
        clock = time.perf_counter()
        try:
            record.detail = await self._execute(call, mapping, case_variables, record)
            record.outcome = ACTION_DONE
        except ActionFailed as exc:
            record.detail = str(exc)
        record.duration_s = round(time.perf_counter() - clock, 6)
        # Masked last: the mapping may have revealed more secrets (the credentials it expanded) while it ran.
        record.params = self.masker.settings(record.params)
        record.detail = self.masker.prose(record.detail)
        return record

    async def observe(self, call: ActionCall, case_variables: dict[str, Any]) -> tuple[ActionRecord, Any]:
        """Read one observation through its mapping: the record (outcome done or failed, detail the value or
        why not, secrets masked) and the observed value (None when it failed). Never raises."""
        from harness.actions.observe import OBSERVERS, shown

        mapping = self.profile.actions[call.name]
        record = ActionRecord(call.name, dict(call.params), describe_mapping(mapping, self.masker), ACTION_FAILED,
                              started=time.time())
        clock = time.perf_counter()
        value = None
        try:
            value = await self._execute(call, mapping, case_variables, record, OBSERVERS)
            problems = returns_problems(call.name, value)
            if problems:
                # The mapping handed back something else than the observation (its shape is the registry's).
                raise ActionFailed(f"expected a value shaped as the registry's {call.name} returns, saw "
                                   f"{shown(value)}: " + "; ".join(problems[:3]))
            record.outcome = ACTION_DONE
            record.detail = "observed " + shown(value)
        except ActionFailed as exc:
            record.detail = str(exc)
        record.duration_s = round(time.perf_counter() - clock, 6)
        record.params = self.masker.settings(record.params)
        record.detail = self.masker.prose(record.detail)
        return record, value

    async def _execute(self, call: ActionCall, mapping: ActionMapping, case_variables: dict[str, Any],
                       record: ActionRecord, executors: dict[str, Any] = EXECUTORS) -> Any:
        spec = registry()[call.name]
        try:
            params = substitute(call.params, case_variables)
        except VariableError as exc:
            raise ActionFailed(f"cannot fill in the parameters: {exc}") from None
        problems = params_problems(call.name, params)
        if problems:
            raise ActionFailed("parameters do not fit the action: " + "; ".join(problems))
        params = spec.with_defaults(params)
        record.params = params
        try:
            declared = substitute(self.declared, {"env": self.env})
        except VariableError as exc:
            raise ActionFailed(f"cannot fill in the profile's variables: {exc}") from None
        variables = {**declared, **self.run_variables, "env": self.env, **case_variables, **params, "params": params}
        executor = executors[mapping.kind]
        return await executor(mapping, params, variables, prompt=spec.prompt, unattended=self.unattended,
                              plugins=self.plugins, masker=self.masker)
