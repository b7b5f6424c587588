"""pytest-xdist workers and concurrent runs: one complete, consistent evidence bundle per run, whatever happens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from harness.pki import TestPki
from harness.reference.process import spawn_reference_server
from harness.sep.identity import certificate_der, fingerprint

from .bundles import CASES, ROOT, SERVER_IDS, assert_consistent_bundle, cli, results

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent


def test_two_workers_merge_every_case_into_one_bundle_with_one_shared_dut(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = cli("run", *CASES, "--reference", "--out", str(out), "--", "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 workers [5 items]" in done.stdout and "5 passed" in done.stdout
    assert assert_consistent_bundle(out) == dict.fromkeys(SERVER_IDS, "passed")
    document = results(out)
    # One reference DUT and one PKI, made on the controller: every worker reached the same server with the
    # client certificate kept in the bundle.
    origins = {exchange["url"].split("/")[2] for test in document["tests"] for step in test["steps"]
               for exchange in step["exchanges"]}
    dut = document["run"]["dut"]
    assert origins == {dut["url"].split("/")[2], dut["http_url"].split("/")[2]}
    assert document["run"]["client"]["certificate_sha256"] == fingerprint(certificate_der(out / "pki" / "client.pem"))
    assert sorted(path.name for path in (out / "exchanges").iterdir()) == sorted(SERVER_IDS)
    assert all(test["nodeid"].endswith(f"{test['id']}.yaml::{test['id']}") for test in document["tests"])


def test_two_workers_against_a_dut_killed_mid_run_give_one_complete_bundle(pki: TestPki, tmp_path: Path) -> None:
    out, signals = tmp_path / "out", tmp_path / "signals"
    signals.mkdir()
    client = pki.clients["client"]
    with spawn_reference_server(pki).wait_ready() as server:
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
               "CSIP_TEST_KILL_PID": str(server.process.pid), "CSIP_TEST_KILL_PORT": str(server.https_port),
               "CSIP_TEST_KILL_DIR": str(signals)}
        done = cli("run", *CASES, "--dut", server.base_url, "--http-url", server.http_url, "--cert", str(client.cert),
                   "--key", str(client.key), "--ca", str(pki.ca), "--out", str(out),
                   "--profile", str(ROOT / "fixtures" / "profiles" / "reference-server.yaml"),
                   *server.admin_options(), "--", "-n", "2", "-p", "parallel_killer_plugin", env=env)
        assert server.process.poll() == -9  # the killer really killed it
    assert done.returncode == 1, done.stdout + done.stderr
    found = assert_consistent_bundle(out)
    assert set(found) == SERVER_IDS and set(found.values()) <= {"passed", "error"}
    # Each worker's first case met a live DUT (the one still running when it died may have ended either
    # way); every case started after its death is an error, none a failure of the DUT.
    assert 1 <= list(found.values()).count("passed") <= 2 and list(found.values()).count("error") >= 3
    reasons = [test["reason"] for test in results(out)["tests"] if test["verdict"] == "error"]
    assert all(any(words in reason for words in ("connect failure", "protocol failure", "ConnectError"))
               for reason in reasons), reasons


def test_two_duts_tested_at_once_get_two_bundles_and_their_own_last_failed(tmp_path: Path) -> None:
    # Two DUTs (here two reference servers, one with a defect), each with its own profile and folder.
    cache_home = tmp_path / "cache"
    other_profile = tmp_path / "other-dut.yaml"
    other_profile.write_text((ROOT / "fixtures" / "profiles" / "reference-server.yaml").read_text())
    first, second = tmp_path / "first", tmp_path / "second"
    runs = [subprocess.Popen([sys.executable, "-m", "harness.cli", "run", *CASES, "--reference", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             env={**os.environ, "XDG_CACHE_HOME": str(cache_home)})
            for extra in (["--defect", "time-wrong-quality", "--out", str(first)],
                          ["--profile", str(other_profile), "--out", str(second)])]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [1, 0], outputs
    assert assert_consistent_bundle(first) == {**dict.fromkeys(SERVER_IDS, "passed"), "CORE-005": "failed"}
    assert assert_consistent_bundle(second) == dict.fromkeys(SERVER_IDS, "passed")
    assert (first / "pki" / "ca.pem").read_bytes() != (second / "pki" / "ca.pem").read_bytes()
    # Each DUT keeps its own pytest cache under XDG_CACHE_HOME, never in a bundle.
    caches = sorted((cache_home / "csip-harness" / "pytest-cache").iterdir())
    lastfailed = [(cache / "v" / "cache" / "lastfailed") for cache in caches]
    assert len(caches) == 2 and [path.is_file() for path in lastfailed].count(True) == 1
    assert not list(first.rglob("lastfailed")) and not list(second.rglob("lastfailed"))
    # --lf after the failing run re-runs only the case that failed, into a new bundle.
    rerun = tmp_path / "rerun"
    done = cli("run", *CASES, "--reference", "--lf", "--out", str(rerun), env={"XDG_CACHE_HOME": str(cache_home)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run-last-failure: rerun previous 1 failure" in done.stdout
    assert assert_consistent_bundle(rerun) == {"CORE-005": "passed"}


def test_a_worker_that_dies_mid_case_leaves_that_case_as_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
           "CSIP_TEST_CRASH_CASE": "CORE-004"}
    done = cli("run", *CASES, "--reference", "-k", "CORE-004 or CORE-005", "--out", str(out), "--",
               "-n", "2", "-p", "crashing_worker_plugin", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    # A harness-side fault, never the DUT's: counted as an error.
    assert "crashed while running" in done.stdout
    assert re.fullmatch(r"=+ 1 passed, (\d+ warnings?, )?1 error in .*", done.stdout.splitlines()[-1])
    # junit.xml has the crashed case without our properties (no record reached pytest's report of it).
    assert assert_consistent_bundle(out, junit=False) == {"CORE-004": "error", "CORE-005": "passed"}
    [crashed] = [test for test in results(out)["tests"] if test["id"] == "CORE-004"]
    assert "no verdict" in crashed["reason"] and "crashed while running" in crashed["reason"]

