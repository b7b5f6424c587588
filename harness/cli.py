"""`csip-harness`: run the suite, serve the reference DUT, validate resources, report, verify, sign, diff, PKI."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Imports stay inside the commands: `csip-harness validate` must start fast.


def _cmd_validate(args: argparse.Namespace) -> int:
    from harness.sep.safexml import XMLRejected, parse_xml

    # harness.sep.schema directly, not harness.session: the session pulls in the engine, profiles and
    # jsonschema, over half of this command's start-up time.
    from harness.sep.schema import SchemaLoadError, SchemaSet

    try:
        schema = SchemaSet.from_path(args.schema) if args.schema else SchemaSet.bundled()
    except (OSError, ValueError, SchemaLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            root = parse_xml(path.read_bytes(), max_bytes=args.max_bytes)
        except OSError as exc:
            print(f"{path}: cannot read: {exc}")
            status = 1
            continue
        except XMLRejected as exc:
            print(f"{path}: rejected: {exc}")
            status = 1
            continue
        findings = schema.validate(root, expected_root=args.root)
        for finding in findings:
            where = f"{path}:{finding.line}" if finding.line else str(path)
            print(f"{where}: {finding.path or ''}: {finding.message} [{finding.kind}]")
        if findings:
            status = 1
        elif not args.quiet:
            print(f"{path}: valid ({schema.name})")
    return status


def _cmd_lfdi(args: argparse.Namespace) -> int:
    from harness.sep.identity import (
        fingerprint,
        lfdi,
        load_certificates,
        select_certificate,
        sfdi,
        xfcc_certificates,
    )

    if bool(args.cert) == bool(args.xfcc):
        print("error: give a certificate file or --xfcc VALUE (one of them)", file=sys.stderr)
        return 2
    where = args.cert or "the --xfcc value"
    try:
        certificates = xfcc_certificates(args.xfcc) if args.xfcc else load_certificates(Path(args.cert).read_bytes())
        chosen = select_certificate(certificates, index=args.index, where=where)
    except (OSError, ValueError) as exc:
        print(f"error: expected a PEM or DER certificate, a bundle of them or an x-forwarded-client-cert value "
              f"in {where}: {exc}", file=sys.stderr)
        return 2
    der = chosen.der
    print(f"Certificate: index {chosen.index} of {chosen.count} in {where} ({chosen.reason}), "
          f"subject {chosen.subject or '(empty)'}")
    print(f"LFDI: {lfdi(der)}")
    print(f"SFDI: {sfdi(der)}")
    print(f"SHA-256: {fingerprint(der)}")
    return 0


def _cmd_defects(args: argparse.Namespace) -> int:
    from harness.reference.defects import DEFECTS

    if args.role == "client":
        from harness.reference.derclient.defects import DER_CLIENT_DEFECTS as DEFECTS  # noqa: N811
    width = max(len(name) for name in DEFECTS)
    for name, description in sorted(DEFECTS.items()):
        print(f"{name.ljust(width)}  {description}")
    return 0


def _cmd_cases(args: argparse.Namespace) -> int:
    """List and check the cases; with --profile, say per case whether a run would run it and why not."""
    from harness.cases.loader import CaseFileError, load_case
    from harness.cases.plan import plan_case
    from harness.cases.profile import load_profile
    from harness.paths import project_dir

    profile = None
    if args.profile:
        try:
            profile = load_profile(args.profile)
        except (OSError, CaseFileError) as exc:
            print(f"error: --profile: {exc}", file=sys.stderr)
            return 2
    root = Path(args.cases) if args.cases else project_dir("testcases")
    if not root.exists():
        print(f"error: --cases: expected a directory or file of test cases at {root}, saw none", file=sys.stderr)
        return 2
    files = [root] if root.is_file() else sorted(root.rglob("*.y*ml"))
    counts = {"loaded": 0, "broken": 0, "run": 0, "not applicable": 0}
    for file in files:
        try:
            case = load_case(file)
        except CaseFileError as exc:
            print(f"ERROR {exc}")
            counts["broken"] += 1
            continue
        counts["loaded"] += 1
        requires = f"  requires: {', '.join(r.text for r in case.requires)}" if case.requires else ""
        print(f"{case.id:<10} {case.role:<7} {case.title}  ({len(case.steps)} steps){requires}")
        if profile is not None:
            plan = plan_case(case, profile)
            counts["run" if plan.runs else "not applicable"] += 1
            print(f"{'':<10} {'would run' if plan.runs else 'not applicable: ' + plan.reason}")
            for note in plan.notes:
                print(f"{'':<12} {note}")
    summary = f"{counts['loaded']} case(s) loaded, {counts['broken']} could not be loaded"
    if profile is not None:
        summary += (f"; against {profile.name or args.profile}: {counts['run']} would run, "
                    f"{counts['not applicable']} not applicable")
    print(summary)
    return 1 if counts["broken"] else 0


def _bundled_cases(where: str | None) -> list[object]:
    """Every case that loads under where (default: the bundled testcases/); broken files are skipped."""
    from harness.cases.loader import CaseFileError, load_case
    from harness.paths import project_dir

    root = Path(where) if where else project_dir("testcases")
    cases = []
    for file in sorted(root.rglob("*.y*ml")):
        try:
            cases.append(load_case(file))
        except CaseFileError:
            continue  # `csip-harness cases` reports it; here it only cannot use anything
    return cases


def _users(cases: list[object], names: set[str], field: str) -> dict[str, list[str]]:
    """For each name, the case ids (with step numbers where a step needs it) that use it."""
    users: dict[str, list[str]] = {name: [] for name in names}
    for case in cases:
        if field == "capability":
            case_level = {n for r in case.requires for n in r.names()}
            for name in case_level:
                users.setdefault(name, []).append(case.id)
            for step in case.steps:
                for name in {n for r in step.requires for n in r.names()} - case_level:
                    users.setdefault(name, []).append(f"{case.id} step {step.index}")
        else:
            for call in case.setup:
                users.setdefault(call.name, []).append(case.id)
            for step in case.steps:
                if step.action is not None:
                    users.setdefault(step.action.name, []).append(f"{case.id} step {step.index}")
                observed = getattr(step.client, "observation", None)
                if observed is not None:
                    users.setdefault(observed.name, []).append(f"{case.id} step {step.index}")
    return {name: sorted(set(ids)) for name, ids in users.items()}


def _cmd_capabilities(args: argparse.Namespace) -> int:
    from harness.cases.capabilities import capabilities

    known = capabilities()
    users = _users(_bundled_cases(args.cases), set(known), "capability")
    width = max(len(name) for name in known)
    for name, meaning in known.items():
        print(f"{name.ljust(width)}  {meaning}")
        print(f"{''.ljust(width)}  used by: {', '.join(users[name]) or 'no case yet'}")
    return 0


def _cmd_actions(args: argparse.Namespace) -> int:
    from harness.actions.builtin import BUILTIN_ACTIONS, BUILTIN_OBSERVATIONS
    from harness.actions.registry import describe_params, registry

    users = _users(_bundled_cases(args.cases), set(registry()), "action")
    for name, spec in sorted(registry().items()):
        if args.role and spec.role not in (args.role, "any"):
            continue
        builtin = "  [reference: builtin]" if name in BUILTIN_ACTIONS | BUILTIN_OBSERVATIONS else ""
        kind = ", observation: read with observe:" if spec.kind == "observation" else ""
        print(f"{name}  ({spec.role} DUT{kind}){builtin}\n    {spec.summary}")
        print(f"    used by: {', '.join(users.get(name, ())) or 'no case yet'}")
        for line in describe_params(spec):
            print(f"      {line}")
    return 0


def _cmd_pki(args: argparse.Namespace) -> int:
    from harness.pki import make_test_pki

    pki = make_test_pki(args.out, **({"clients": tuple(args.client)} if args.client else {}))
    print(f"CA:      {pki.ca}")
    print(f"server:  {pki.server.cert}  {pki.server.key}")
    for name, pair in pki.identities.items():
        print(f"{name + ':':<8} {pair.cert}  {pair.key}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import signal

    from harness.pki import make_test_pki
    from harness.reference.process import start_reference_server

    out = Path(args.out)
    pki = make_test_pki(out / "pki")
    with start_reference_server(
        pki, defects=args.defect or (), port=args.port, http_port=args.http_port
    ) as server:
        print(f"reference 2030.5 server: {server.base_url}/dcap (plain HTTP {server.http_url})")
        print(f"client certificate: {pki.clients['client'].cert}  key: {pki.clients['client'].key}  CA: {pki.ca}")
        print(f"admin interface: {server.admin_url}  token: {server.admin_token}")
        print("defects: " + (", ".join(server.defects) or "none") + "; Ctrl-C stops it")
        sys.stdout.flush()
        # Blocked first so that sigwait, not the default handlers, receives them and the server is stopped.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


# pytest's entry-point names of the optional plugins a run may ask for, and the options that ask for each.
_OPTIONAL_PLUGINS = {"xdist": ("-n", "--numprocesses", "--dist", "--tx", "-d", "--maxprocesses"),
                     "allure_pytest": ("--alluredir",)}


def _plugin_args(extra: list[str]) -> list[str]:
    """pytest options that load only the plugins this run needs, with PYTEST_DISABLE_PLUGIN_AUTOLOAD set.

    Every pytest plugin installed beside the harness (hypothesis, anyio, asyncio...) would otherwise be
    imported by each run: a large part of the time to the first request. Ours is always loaded; pytest-xdist
    when -n/--dist/--tx is given, allure-pytest with --alluredir; others with `-p NAME` after `--`. Assertion
    rewriting is off: no assert of a test module decides a verdict here, and it costs an AST pass per module.
    """
    wanted = ["csip_harness"]
    for name, options in _OPTIONAL_PLUGINS.items():
        if any(arg == option or arg.startswith(option + "=") or (option == "-n" and arg.startswith("-n"))
               for arg in extra for option in options):
            wanted.append(name)
    # The ini file around the cases may name options of plugins not loaded here (asyncio_mode, say): not ours to judge.
    return [item for name in wanted for item in ("-p", name)] + ["--assert=plain", "-W",
                                                                 "ignore::pytest.PytestConfigWarning"]


def _pytest_args(args: argparse.Namespace, out: Path) -> list[str]:
    from harness.paths import project_dir

    cases = Path(args.cases) if args.cases else project_dir("testcases") / args.role
    pytest_args = [*_plugin_args(list(args.pytest_args or ())), str(cases), f"--junitxml={out / 'junit.xml'}", "-rfEs",
                   "-o", f"cache_dir={_cache_dir(args)}"]
    # Named as the folder of cases too, so that every YAML file in it is a case whatever the folder is called.
    pytest_args += ["--csip-out", str(out), "--csip-cases", str(cases)]
    if args.replace:
        pytest_args.append("--csip-replace")
    if args.schema:
        pytest_args += ["--csip-schema", args.schema]
    if args.k:
        pytest_args += ["-k", args.k]
    if args.quiet:
        pytest_args.append("-q")
    if args.lf:
        pytest_args.append("--lf")
    if args.ff:
        pytest_args.append("--ff")
    for item in args.var or ():
        pytest_args += ["--csip-var", item]
    if args.unattended:
        pytest_args.append("--csip-unattended")
    if args.tls_verify:
        pytest_args += ["--csip-tls-verify", args.tls_verify]
    if args.time_scale is not None:
        pytest_args += ["--csip-time-scale", repr(args.time_scale)]
    if getattr(args, "late", None) is not None:
        pytest_args += ["--csip-late", repr(args.late)]
    if args.reference:
        pytest_args.append("--csip-reference")
        for name in args.defect or ():
            pytest_args += ["--csip-defect", name]
    elif args.dut:
        pytest_args += ["--csip-dut", args.dut]
    if args.plain_http:
        pytest_args.append("--csip-plain-http")
    if args.pdf:
        pytest_args.append("--csip-pdf")
    for name in ("cert", "key", "ca", "profile", "http_url", "listener", "listener_url", "listener_cert",
                 "listener_key", "lab", "transport", "nats_mapping", "encoding"):
        value = getattr(args, name, None)
        if value:
            pytest_args += [f"--csip-{name.replace('_', '-')}", str(value)]
    return pytest_args + list(args.pytest_args or ())


def _cache_dir(args: argparse.Namespace) -> Path:
    """pytest's cache (what --lf and --ff read) for this DUT: under the user's cache directory, one per DUT.

    Never in the source tree, the installed package or the evidence bundle. Keyed by the DUT's address
    (or the reference server) and its profile, so two DUTs tested from one machine never share their
    last-failed cases; the reference server's defects are not part of the key, so a re-run with --lf after
    a fix runs the cases that failed before it.
    """
    import hashlib
    import re

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    profile = Path(args.profile).resolve() if args.profile else None
    dut = "reference" if args.reference else args.dut or ""
    digest = hashlib.sha256(f"{args.role}\n{dut}\n{profile or ''}".encode()).hexdigest()[:12]
    # A name a person can tell apart in the cache directory; the digest is what keeps DUTs apart.
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", dut.split("://")[-1] or (profile.stem if profile else "")).strip("_")
    return base / "csip-harness" / "pytest-cache" / f"{readable[:40] or 'dut'}-{digest}"


def _reference_profile() -> Path:
    from harness.paths import project_dir

    return project_dir("fixtures") / "profiles" / "reference-server.yaml"


def _verdict_exit(out: Path, pytest_status: int) -> int:
    from harness.report.writer import read_summary

    try:
        summary = read_summary(out / "results.json")
    except (OSError, ValueError):
        return 1
    if pytest_status not in (0, 1, 5):
        return 1
    return 1 if summary.get("failed", 0) or summary.get("error", 0) else 0


def _cmd_run(args: argparse.Namespace) -> int:
    import time

    import pytest

    if args.time_scale is not None and not 0 < args.time_scale <= 1:
        print(f"error: --time-scale: expected F with 0 < F <= 1 (0.01 runs the reference server's clock 100 times "
              f"as fast; 1 is real time), saw {args.time_scale:g}", file=sys.stderr)
        return 2
    if args.late is not None and not 0 < args.late < float("inf"):
        print(f"error: --late: expected how many seconds of the DUT's clock a wait may end past its target (a "
              f"number > 0, e.g. 30), saw {args.late:g}", file=sys.stderr)
        return 2
    from harness.optioncheck import STYLE_VARIABLE, SessionConfigError, check_cli_run

    role_args: list[str] = []
    if args.role == "client":
        # The harness is the device's 2030.5 server: the same pytest run with --csip-role client
        # (harness.server.clientsession: the test server, and the reference DER client with --reference).
        problem = _client_run_problem(args)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        role_args = ["--csip-role", "client"] + (["--csip-port", str(args.port)] if args.port else [])
    else:
        try:
            check_cli_run(args, _reference_profile() if args.reference else None)
        except SessionConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    # The plugin, and the xdist workers, name options as this command spells them (--cert, not --csip-cert).
    os.environ[STYLE_VARIABLE] = "cli"
    from harness.report.folder import DEFAULT_PARENT, BundleExistsError, new_default_folder, refuse_earlier_run

    if args.out:
        out = Path(args.out).resolve()
        if not args.replace:
            try:
                refuse_earlier_run(out, out_option="--out DIR", replace_option="--replace")
            except BundleExistsError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    else:
        out = new_default_folder(Path(DEFAULT_PARENT).resolve(), time.time())
    # Only the plugins the run needs (see _plugin_args); the xdist workers inherit this environment.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    status = int(pytest.main([*role_args, *_pytest_args(args, out)]))
    if status == pytest.ExitCode.USAGE_ERROR:
        return 2
    return _verdict_exit(out, status)


def _client_run_problem(args: argparse.Namespace) -> str | None:
    """What `run --role client` lacks or has too much of, said before pytest starts; None when nothing.

    The plugin checks the rest (harness.roles.client_profile), as for plain pytest.
    """
    if args.dut and (args.reference or not (args.transport == "nats" or args.nats_mapping)):
        # Over NATS a real device and the harness meet on the device's NATS server: that one is --dut.
        return ("--role client: the device connects to the harness, so there is no --dut (except --transport nats "
                "with a real device: the NATS server it uses); give --reference or --profile DEVICE.yaml (the run "
                "prints the address the device must use)")
    if not args.reference and not args.profile:
        return ("--role client: expected --reference (the bundled reference DER client) or --profile DEVICE.yaml "
                "(a real device, role: client)")
    return None


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report.coverage import SUMMARY_CSV, coverage, summary_csv
    from harness.report.document import ResultsFileError, load_results
    from harness.report.files import write_atomically
    from harness.report.html import write_html

    try:
        document = load_results(args.results)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.lab:
        # A lab may fill in its file after the run (report number, reviewer): the report shows that one.
        from harness.report.lab import LabFileError, load_lab

        try:
            document.setdefault("run", {})["lab"] = load_lab(args.lab)
        except LabFileError as exc:
            print(f"error: --lab: {exc}", file=sys.stderr)
            return 2
    if args.pdf:
        from harness.report.pdf import PdfUnavailable, write_pdf

        try:
            write_pdf(document, Path(args.pdf), results_file=args.results, templates=args.templates)
        except PdfUnavailable as exc:
            print(f"error: --pdf: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: --pdf {args.pdf}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"report (PDF): {args.pdf}")
    if args.output or not args.pdf:
        target = Path(args.output) if args.output else Path(args.results).with_name("report.html")
        write_html(document, target, results_file=args.results, templates=args.templates)
        print(f"report: {target}")
    if args.csv:
        write_atomically(Path(args.csv), summary_csv(coverage(document)))
        print(f"{SUMMARY_CSV}: {args.csv}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from harness.report.manifest import MANIFEST, MANIFEST_SIGNATURE, bundle_files, verify_manifest

    root = Path(args.dir)
    if not root.is_dir():
        print(f"error: expected a results directory at {root}, saw none", file=sys.stderr)
        return 2
    signature_problem = None
    if args.pubkey:
        from harness.report.signing import SigningError, verify_signature

        try:
            signature_problem = verify_signature(root, Path(args.pubkey))
        except SigningError as exc:
            print(f"error: --pubkey: {exc}", file=sys.stderr)
            return 2
    problems = verify_manifest(root)
    for problem in problems:
        print(f"{root / problem.file}: {problem.problem}")
    if signature_problem:
        print(f"{root}/{signature_problem}")
    if problems or signature_problem:
        count = len(problems) + bool(signature_problem)
        print(f"FAILED: {count} problem(s) against {root / MANIFEST}" + (" and its signature" if args.pubkey else ""))
        return 1
    signed = f" and its signature verifies with {args.pubkey}" if args.pubkey else ""
    print(f"OK: {len(bundle_files(root))} files match {root / MANIFEST}{signed}")
    if not args.pubkey and (root / MANIFEST_SIGNATURE).is_file():
        print(f"note: {root / MANIFEST_SIGNATURE} was not checked: give --pubkey FILE (the signer's public key)")
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    from harness.report.manifest import MANIFEST, verify_manifest
    from harness.report.signing import SigningError, sign_manifest

    root = Path(args.dir)
    if not root.is_dir():
        print(f"error: expected a results directory at {root}, saw none", file=sys.stderr)
        return 2
    # Only a bundle that matches its manifest is signed: a signature must never vouch for altered evidence.
    problems = verify_manifest(root)
    if problems:
        for problem in problems:
            print(f"{root / problem.file}: {problem.problem}", file=sys.stderr)
        print(f"error: {root} does not match {root / MANIFEST} ({len(problems)} problem(s)); not signed",
              file=sys.stderr)
        return 1
    try:
        signed = sign_manifest(root, Path(args.key))
    except SigningError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return 2
    print(f"signed: {signed.path} ({signed.algorithm}, public key sha256 {signed.public_key_sha256})")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from harness.report.compare import as_html, as_markdown, as_text, compare
    from harness.report.document import ResultsFileError, load_results

    try:
        old, new = load_results(args.old), load_results(args.new)
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    comparison = compare(old, new, args.old, args.new)
    render = {"text": as_text, "markdown": as_markdown, "html": as_html}[args.format]
    text = render(comparison)
    if args.output:
        from harness.report.files import write_atomically

        write_atomically(Path(args.output), text)
        print(as_text(comparison).splitlines()[0])
    else:
        sys.stdout.write(text)
    return 1 if comparison.regressions else 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="csip-harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the conformance suite against a DUT or the reference server")
    target = run.add_mutually_exclusive_group()
    target.add_argument("--reference", action="store_true", help="start the bundled reference server as the DUT")
    target.add_argument("--dut", help="base URL of the DUT, e.g. https://192.0.2.10:8443")
    run.add_argument("--defect", action="append", help="with --reference: switch on a named defect (repeatable)")
    run.add_argument("--role", default="server", choices=["server", "client"],
                     help="DUT role (default server); client: the harness is the device's 2030.5 server")
    run.add_argument("--port", type=int, default=0,
                     help="with --role client and a real device: the test server's TCP port (default: a free one)")
    run.add_argument("--cert", help="client certificate (PEM) presented to the DUT")
    run.add_argument("--key", help="private key of the client certificate")
    run.add_argument("--ca", help="CA certificate that issued the DUT's certificate")
    run.add_argument("--profile", help="DUT profile YAML")
    run.add_argument("--http-url", dest="http_url", help="plain-HTTP address of the DUT, for redirect checks")
    run.add_argument("--tls-verify", dest="tls_verify", choices=["full", "chain", "none"],
                     help="how the DUT's certificate is verified: full (chain and host name, the default), chain "
                          "(the chain to --ca, not the host name) or none; recorded in the results")
    run.add_argument("--plain-http", dest="plain_http", action="store_true",
                     help="allow an http:// --dut: test over plain HTTP, without TLS (refused otherwise)")
    run.add_argument("--time-scale", dest="time_scale", type=float, metavar="F",
                     help="0 < F <= 1: the reference server runs its clock and schedules 1/F times as fast, for "
                          "development runs (recorded in the results; a certification run uses 1). Refused for a "
                          "DUT whose profile does not say time_scale: true")
    run.add_argument("--late", type=float, metavar="S",
                     help="seconds of the DUT's clock a wait may end past its target before the case is an error "
                          "(the harness was late), never failed; default 5 s of wall time on the DUT's clock "
                          "(5/F at --time-scale F), at most 30 s; a step's wait: {late: S} overrides it")
    run.add_argument("--listener", help="HOST:PORT the notification listener binds to (default 127.0.0.1, any free "
                                        "port; e.g. 0.0.0.0:8444 for a DUT on another host)")
    run.add_argument("--listener-url", dest="listener_url",
                     help="the base address the DUT is given for Notifications, e.g. https://10.0.0.7:8444")
    run.add_argument("--listener-cert", dest="listener_cert",
                     help="the listener's TLS server certificate (PEM), one the DUT trusts")
    run.add_argument("--listener-key", dest="listener_key", help="the private key of --listener-cert")
    run.add_argument("--schema", help="XML schema file to validate against, e.g. the official sep.xsd")
    run.add_argument("--transport", choices=["http", "nats"],
                     help="how requests reach the DUT (default: by --dut's scheme: https://, nats:// or tls://); "
                          "with --reference, nats starts a private nats-server (docs/nats-mapping.md)")
    run.add_argument("--nats-mapping", dest="nats_mapping", choices=["native", "interstore"],
                     help="over NATS: native request/reply (default) or the InterSTORE tunnel")
    run.add_argument("--encoding", choices=["xml", "json"],
                     help="2030.5 bodies as XML (default) or CUPID's JSON (docs/json-mapping.md)")
    run.add_argument("--cases", help="directory or file of test cases (default: the bundled testcases/<role>)")
    run.add_argument("-k", help="only cases matching this pytest -k expression")
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument("--out", help="folder for the evidence bundle (default: a new csip-results/<UTC date-time>); "
                                   "a folder holding an earlier run is refused unless --replace")
    run.add_argument("--replace", action="store_true", help="replace the earlier run's evidence in --out")
    run.add_argument("--lf", "--last-failed", dest="lf", action="store_true",
                     help="run only the cases that failed (or errored) in this DUT's last run")
    run.add_argument("--ff", "--failed-first", dest="ff", action="store_true",
                     help="run the cases that failed in this DUT's last run first, then the others")
    run.add_argument("--var", action="append", metavar="NAME=VALUE",
                     help="a variable for the profile's action templates (repeatable)")
    run.add_argument("--unattended", action="store_true",
                     help="no person at the terminal: operator actions count only when pre-acknowledged")
    run.add_argument("--lab", help="lab file (YAML): lab, tester, reviewer, customer, report number; shown on the "
                                   "report's first page (fields left out show as 'not given')")
    run.add_argument("--pdf", action="store_true", help="also write report.pdf into the evidence bundle (WeasyPrint)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments after --")
    run.set_defaults(func=_cmd_run)

    serve = commands.add_parser("serve", help="run the reference 2030.5 server in the foreground")
    serve.add_argument("--out", default="csip-reference", help="directory for its PKI")
    serve.add_argument("--defect", action="append")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--http-port", type=int, default=0)
    serve.set_defaults(func=_cmd_serve)

    validate = commands.add_parser("validate", help="validate 2030.5 XML files against the schema")
    validate.add_argument("files", nargs="+")
    validate.add_argument("--schema", help="XML schema file (default: the bundled CSIP schema)")
    validate.add_argument("--root", help="the root element the document must have, e.g. DeviceCapability")
    validate.add_argument("--max-bytes", type=int, default=16 * 1024 * 1024)
    validate.add_argument("-q", "--quiet", action="store_true")
    validate.set_defaults(func=_cmd_validate)

    report = commands.add_parser("report", help="render report.html again from a results.json alone")
    report.add_argument("results", help="a results.json written by csip-harness run")
    report.add_argument("-o", "--output", help="HTML file to write (default: report.html beside the results)")
    report.add_argument("--csv", help="also write the per-procedure summary CSV to this file")
    report.add_argument("--templates", help="directory whose templates override the bundled ones")
    report.add_argument("--pdf", metavar="FILE", help="write the report as PDF to FILE (the HTML only with -o)")
    report.add_argument("--lab", help="lab file (YAML) to show instead of the one the run recorded")
    report.set_defaults(func=_cmd_report)

    verify = commands.add_parser("verify", help="check a results directory against its MANIFEST.sha256 (and, with "
                                                "--pubkey, the manifest against its signature)")
    verify.add_argument("dir", help="the directory given to csip-harness run --out")
    verify.add_argument("--pubkey", metavar="FILE", help="the signer's public key (PEM) or certificate: also check "
                                                         "MANIFEST.sha256.sig (csip-harness sign)")
    verify.set_defaults(func=_cmd_verify)

    sign = commands.add_parser("sign", help="sign a results directory's MANIFEST.sha256 (detached signature "
                                            "MANIFEST.sha256.sig)")
    sign.add_argument("dir", help="the results directory, sealed by its run (MANIFEST.sha256)")
    sign.add_argument("--key", required=True, metavar="FILE", help="the lab's private key (PEM, Ed25519 or EC)")
    sign.set_defaults(func=_cmd_sign)

    diff = commands.add_parser("diff", help="compare two runs' results.json per procedure; exit 1 when a procedure "
                                            "regressed (newly failed or in error)")
    diff.add_argument("old", help="the earlier run's results.json")
    diff.add_argument("new", help="the later run's results.json")
    diff.add_argument("--format", choices=["text", "markdown", "html"], default="text",
                      help="text (default), or the short markdown/HTML form for a pull-request comment")
    diff.add_argument("-o", "--output", help="write the comparison to this file (the headline still printed)")
    diff.set_defaults(func=_cmd_diff)

    lfdi = commands.add_parser("lfdi", help="print the LFDI and SFDI of a device certificate")
    lfdi.add_argument("cert", nargs="?", help="PEM or DER certificate, a PEM bundle (a chain: its leaf is used), "
                                              "or a file holding an x-forwarded-client-cert value")
    lfdi.add_argument("--xfcc", metavar="VALUE", help="an x-forwarded-client-cert header value: a URL-encoded PEM, "
                                                      "or XFCC elements such as Hash=…;Cert=\"…\";Subject=…")
    lfdi.add_argument("--index", type=int, metavar="N",
                      help="use the N-th certificate (0 = the first) when the source holds several that are not "
                           "one chain")
    lfdi.set_defaults(func=_cmd_lfdi)

    defects = commands.add_parser("defects", help="list the reference server's (or DER client's) named defects")
    defects.add_argument("--role", default="server", choices=["server", "client"],
                         help="client: the defects of the reference DER client (run --role client --reference)")
    defects.set_defaults(func=_cmd_defects)

    cases = commands.add_parser("cases", help="list (and check) the test cases")
    cases.add_argument("--cases", help="directory (or file) of test cases (default: the bundled testcases/); every "
                                       "YAML file in it must be a case")
    cases.add_argument("--profile", help="a DUT profile: say per case whether a run would run it or find it not "
                                         "applicable, and why (nothing is sent)")
    cases.set_defaults(func=_cmd_cases)

    actions = commands.add_parser("actions", help="list the DUT-side actions cases may use, with their parameters "
                                  "and the cases that use each")
    actions.add_argument("--role", choices=["server", "client"], help="only actions for this DUT role")
    actions.add_argument("--cases", help="directory of test cases to look in (default: the bundled testcases/)")
    actions.set_defaults(func=_cmd_actions)

    caps = commands.add_parser("capabilities", help="list the capabilities a DUT profile may declare, with their "
                               "meaning and the cases that require each")
    caps.add_argument("--cases", help="directory of test cases to look in (default: the bundled testcases/)")
    caps.set_defaults(func=_cmd_capabilities)

    pki = commands.add_parser("pki", help="make a test PKI: CA, server and client certificates (ECDSA P-256) and "
                                          "the COMM-003/004 certificates")
    pki.add_argument("--out", required=True)
    pki.add_argument("--client", action="append",
                     help="client certificate name (repeatable; default: client, other, aggregator)")
    pki.set_defaults(func=_cmd_pki)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        # Still inside the try: the last buffered lines are written here, not at interpreter exit.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # `csip-harness defects | head -1`: the reader left; stop quietly, as a Unix filter does. Python
        # flushes stdout once more at exit; pointing it at /dev/null keeps that flush from failing too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0


if __name__ == "__main__":
    sys.exit(main())
