"""A hostile DUT never crashes the harness: every attack ends in a complete results.json and an honest verdict.

The hostile server (tests/hostile_server.py) answers each path with one attack: XML external entities,
entity bombs, DTDs, oversized, endless, truncated and non-UTF-8 bodies, resets, silence and garbage.
Each scenario runs the real `csip-harness run` CLI in a subprocess (pytest plugin, engine, transport,
results writer, HTML report), all scenarios at once so the module stays fast; a second test drives
`run_case` in-process to show that one transport survives every attack and still passes a good DUT.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.cases.loader import load_case
from harness.cases.profile import load_profile
from harness.engine.context import RunContext, builtin_variables
from harness.engine.runner import run_case
from harness.pki import TestPki
from harness.results import ERROR, FAILED, NOT_RUN, PASSED
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context, server_context
from harness.transport.http import HttpTransport


def _load_sibling(name: str) -> ModuleType:
    # The project runs pytest with --import-mode=importlib, so tests/ is not on sys.path.
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "HostileServer"):
        spec.loader.exec_module(module)
    return module


_hostile = _load_sibling("hostile_server")
HUGE_BODY: int = _hostile.HUGE_BODY
RAW_SCENARIOS: dict[str, Any] = _hostile.RAW_SCENARIOS
HostileServer = _hostile.HostileServer

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "testcases" / "server" / "CORE-005.yaml"
# The console script installed beside this interpreter, i.e. the one the user runs.
CLI = Path(sys.executable).with_name("csip-harness")
TIMEOUTS = {"connect": 2, "read": 2, "total": 3}
# Generous against a loaded CI machine, far below "hangs forever".
RUN_LIMIT_S = 60


@dataclass(frozen=True)
class Expect:
    """How the harness must judge one scenario."""

    verdict: str
    reason: tuple[str, ...]  # every one of these must appear in the verdict reason


SCENARIOS: dict[str, Expect] = {
    "xxe": Expect(FAILED, ("DOCTYPE", "expected no DTD")),
    "bomb": Expect(FAILED, ("DOCTYPE", "expected no DTD")),
    "doctype": Expect(FAILED, ("DOCTYPE", "expected no DTD")),
    "huge": Expect(FAILED, ("at most 1048576 bytes", "reading stopped")),
    "slow": Expect(ERROR, ("within 3.0 s",)),
    "bad-utf8": Expect(FAILED, ("UTF-8", "invalid byte")),
    "short": Expect(ERROR, ("protocol failure", "expected 4096")),
    "cut": Expect(FAILED, ("well-formed XML", "TimeLi")),
    "reset": Expect(ERROR, ("protocol failure", "reset by peer")),
    "silent": Expect(ERROR, ("timeout", "within 2.0 s", "read timeout")),
    "garbage": Expect(ERROR, ("protocol failure", "status line")),
    # Caught by the pre-flight, before the case sends anything: every step is not run.
    "tcp-silent": Expect(ERROR, ("pre-flight", "did not answer the TLS handshake within 2 s")),
    "tls-garbage": Expect(ERROR, ("pre-flight", "answered with something that is not TLS")),
}
PREFLIGHT_SCENARIOS = {"tcp-silent", "tls-garbage"}


@dataclass
class CliRun:
    """One `csip-harness run` against one scenario: exit code, output, results and peak memory."""

    scenario: str
    exit_code: int
    stdout: str
    stderr: str
    out: Path
    wall_s: float
    max_rss_kb: int

    def results(self) -> dict[str, Any]:
        """The parsed results.json."""
        return json.loads((self.out / "results.json").read_text())


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A file holding a unique string that an external entity would try to read into the report."""
    value = f"csip-secret-{uuid.uuid4().hex}"
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(value)
    return value, path


@pytest.fixture(scope="module")
def hostile(pki: TestPki, secret: tuple[str, Path]) -> Iterator[HostileServer]:
    """The hostile DUT, on its own loop in a background thread."""
    with HostileServer(server_context(pki.server.cert, pki.server.key, pki.ca), secret[1]) as server:
        yield server


def _profile(directory: Path, dcap: str) -> Path:
    path = directory / "profile.yaml"
    path.write_text(
        "role: server\n"
        f"dcap: {dcap}\n"
        "capabilities: [time]\n"
        # The hostile server has no admin interface: the lab confirmed the Time quality beforehand.
        "actions: {configure-time: {operator: {acknowledged: true}}}\n"
        f"timeouts: {{connect: {TIMEOUTS['connect']}, read: {TIMEOUTS['read']}, total: {TIMEOUTS['total']}}}\n"
    )
    return path


def _run_cli(scenario: str, server: HostileServer, pki: TestPki, base: Path) -> CliRun:
    workdir = base / scenario
    workdir.mkdir()
    raw = scenario in RAW_SCENARIOS
    url = server.raw_url(scenario) if raw else server.base_url
    profile = _profile(workdir, "/dcap" if raw else f"/{scenario}")
    out = workdir / "out"
    client = pki.clients["client"]
    command = [str(CLI), "run", "--dut", url, "--cert", str(client.cert), "--key", str(client.key),
               "--ca", str(pki.ca), "--profile", str(profile), "--out", str(out), "--cases", str(CASE)]
    stdout, stderr = workdir / "stdout.txt", workdir / "stderr.txt"
    clock = time.perf_counter()
    with stdout.open("wb") as out_file, stderr.open("wb") as err_file:
        process = subprocess.Popen(command, stdout=out_file, stderr=err_file, cwd=workdir)
        # A hang is a failure, not a stuck test run.
        watchdog = threading.Timer(RUN_LIMIT_S, process.kill)
        watchdog.start()
        try:
            # wait4 gives this child's own peak RSS, which the 50 MB scenario is judged by.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return CliRun(scenario, process.returncode, stdout.read_text(errors="replace"),
                  stderr.read_text(errors="replace"), out, time.perf_counter() - clock, usage.ru_maxrss)


@pytest.fixture(scope="module")
def cli_runs(hostile: HostileServer, pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    """Every scenario through the full CLI, in parallel subprocesses."""
    base = tmp_path_factory.mktemp("hostile-runs")
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(_run_cli, name, hostile, pki, base) for name in SCENARIOS}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_cli_survives_and_judges(scenario: str, cli_runs: dict[str, CliRun]) -> None:
    """The CLI exits 1 with a complete results.json whose verdict and reason name the attack."""
    run = cli_runs[scenario]
    expect = SCENARIOS[scenario]
    output = run.stdout + run.stderr
    assert "INTERNALERROR" not in output, output[-3000:]
    assert "Traceback (most recent call last)" not in output, output[-3000:]
    assert run.exit_code == 1, f"exit {run.exit_code}:\n{output[-3000:]}"
    assert run.wall_s < RUN_LIMIT_S
    results = run.results()
    assert results["run"]["complete"] is True
    assert results["summary"]["total"] == 1 and results["tests"]
    for test in results["tests"]:
        assert test["verdict"] == expect.verdict, test["reason"]
        for word in expect.reason:
            assert word in test["reason"], f"{word!r} not in {test['reason']!r}"
        if scenario in PREFLIGHT_SCENARIOS:
            assert all(step["verdict"] == NOT_RUN and not step["exchanges"] for step in test["steps"])
            continue
        first, *rest = test["steps"]
        assert first["verdict"] == expect.verdict and first["message"] == test["reason"]
        assert all(step["verdict"] == NOT_RUN for step in rest)
        # The evidence keeps the exchange even when the DUT misbehaved.
        assert len(first["exchanges"]) == 1
    assert (run.out / "report.html").is_file()
    assert (run.out / "junit.xml").is_file()


def test_external_entity_never_reads_the_file(cli_runs: dict[str, CliRun], secret: tuple[str, Path]) -> None:
    """The secret an external entity points at appears in no output of any run: files, console, verdicts."""
    value, path = secret
    for run in cli_runs.values():
        assert value not in run.stdout and value not in run.stderr
        for file in run.out.rglob("*"):
            if file.is_file():
                assert value.encode() not in file.read_bytes(), f"{run.scenario}: secret leaked into {file}"
    # The attack was really served: the evidence holds the entity declaration pointing at the file.
    body = cli_runs["xxe"].results()["tests"][0]["steps"][0]["exchanges"][0]["response_body"]["text"]
    assert f'SYSTEM "file://{path}"' in body and "&x;" in body


def test_huge_body_is_cut_and_memory_stays_flat(cli_runs: dict[str, CliRun], hostile: HostileServer) -> None:
    """50 MB declared and streamed: reading stops near the limit, and peak RSS barely moves."""
    run = cli_runs["huge"]
    exchange = run.results()["tests"][0]["steps"][0]["exchanges"][0]
    assert exchange["error_kind"] == "too-large"
    assert ["content-length", str(HUGE_BODY)] in [[k.lower(), v] for k, v in exchange["response_headers"]]
    # The harness kept at most one network read beyond the limit, then hung up; the server got to
    # send little more than what the socket buffers hold.
    kept = int(re.search(r"saw more than (\d+) bytes", exchange["error"]).group(1))  # type: ignore[union-attr]
    assert 1_048_576 < kept <= 1_048_576 + 256 * 1024
    assert 0 < hostile.huge_bytes_sent < HUGE_BODY // 2
    # Buffering the whole body would cost 50 MB at least (100 MB with the bytes copy).
    baseline = min(r.max_rss_kb for name, r in cli_runs.items() if name != "huge")
    assert run.max_rss_kb - baseline < 24 * 1024, (run.max_rss_kb, baseline)


def test_endless_body_ends_at_the_deadline(cli_runs: dict[str, CliRun]) -> None:
    """One byte every 100 ms never trips the read timeout; the total deadline ends it on time."""
    exchange = cli_runs["slow"].results()["tests"][0]["steps"][0]["exchanges"][0]
    assert exchange["error_kind"] == "timeout"
    assert TIMEOUTS["total"] - 0.1 <= exchange["elapsed_s"] < TIMEOUTS["total"] + 1.5
    silent = cli_runs["silent"].results()["tests"][0]["steps"][0]["exchanges"][0]
    assert TIMEOUTS["read"] - 0.1 <= silent["elapsed_s"] < TIMEOUTS["read"] + 1.5


def _context(pki: TestPki, base_url: str, profile_path: Path) -> RunContext:
    client = pki.clients["client"]
    profile = load_profile(profile_path)
    transport = HttpTransport(
        client_context(client.cert, client.key, pki.ca),
        allowed_origins=[base_url],
        connect_timeout=profile.connect_timeout,
        read_timeout=profile.read_timeout,
        total_timeout=profile.total_timeout,
        max_body=profile.max_body,
    )
    return RunContext(profile=profile, base_url=base_url, transport=transport, schema=SchemaSet.bundled(),
                      builtins=builtin_variables(profile, base_url))


# Each attack, then a well-behaved DUT on the same transport: the pool must not be poisoned.
IN_PROCESS = ["xxe", "bomb", "huge", "bad-utf8", "short", "cut", "reset", "garbage", "slow"]


async def test_run_case_recovers_after_every_attack(
    hostile: HostileServer, pki: TestPki, tmp_path: Path, secret: tuple[str, Path]
) -> None:
    """run_case on one shared transport: each attack gets its verdict, and the next good exchange passes."""
    case = load_case(CASE)
    ctx = _context(pki, hostile.base_url, _profile(tmp_path, "/ok"))
    try:
        good = await run_case(case, ctx)
        assert good.verdict == PASSED, good.reason
        for scenario in IN_PROCESS:
            attacked = RunContext(profile=ctx.profile, base_url=ctx.base_url, transport=ctx.transport,
                                  schema=ctx.schema, builtins={**ctx.builtins, "dcap": f"/{scenario}"})
            record = await asyncio.wait_for(run_case(case, attacked), RUN_LIMIT_S)
            assert record.verdict == SCENARIOS[scenario].verdict, f"{scenario}: {record.reason}"
            assert "harness error" not in record.reason
            assert secret[0] not in json.dumps(record.to_dict(), default=str)
            after = await run_case(case, ctx)
            assert after.verdict == PASSED, f"after {scenario}: {after.reason}"
    finally:
        await ctx.transport.aclose()
