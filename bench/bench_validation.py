"""Validation throughput: our parse + schema + own checks against raw lxml XMLSchema.validate.

The corpus is what the reference server really serves: its resource tree is walked from /dcap
(every href, list pages at full length), with 50 extra EndDevices so EndDeviceList carries 50+
items, and a registered client that sees every EndDevice. Five paths are timed on the same documents,
interleaved over several rounds, medians kept:

  raw-full  lxml.etree.fromstring(bytes) + lxml.etree.XMLSchema(bundled harness2030_5.xsd).validate(tree):
            the fair baseline the target (ours / raw-full >= 0.7x) is measured against
  raw       the same validate on pre-parsed trees
  ours      parse_xml(bytes) + SchemaSet.bundled().validate(root, expected_root)  (what a step does)
  ours-pre  SchemaSet.bundled().validate(root, expected_root) on pre-parsed trees
  ours-gate SchemaSet.bundled().is_valid(root): the schema stage alone, on pre-parsed trees
  other     with --schema FILE: lxml XMLSchema(FILE).validate(tree) on the same pre-parsed trees, e.g. an
            earlier bundled schema or the official sep.xsd, to see what the schema's size costs lxml

Run: python bench/bench_validation.py [--rounds 7] [--seconds 0.6] [--schema FILE]
"""

from __future__ import annotations

import argparse
import importlib.resources
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml import etree

from harness.pki import make_test_pki
from harness.reference.process import start_reference_server
from harness.sep.safexml import local_name, parse_xml
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context

TARGET_RATIO = 0.7
MAX_DOCS = 150


def collect_corpus(extra_enddevices: int = 50) -> list[bytes]:
    """Walk the reference server's tree from /dcap and keep every valid 2030.5 document it serves."""
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        pki = make_test_pki(Path(tmp))
        client = pki.clients["client"]
        context = client_context(client.cert, client.key, pki.ca)
        # The bench's client is preregistered (an unknown client gets 403 on all but /dcap and /tm) and sees
        # every EndDevice (edev-not-scoped), so the EndDeviceList carries 50+ items, as a real head-end's
        # list does for an aggregator.
        with start_reference_server(pki, extra_enddevices=extra_enddevices, defects=["edev-not-scoped"],
                                    preregister=[(client.cert, 111115)]) as server, httpx.Client(
            base_url=server.base_url, verify=context, timeout=10
        ) as http:
            schema = SchemaSet.bundled()
            seen: set[str] = set()
            queue = ["/dcap"]
            corpus: list[bytes] = []
            while queue and len(corpus) < MAX_DOCS:
                path = queue.pop(0)
                if path in seen:
                    continue
                seen.add(path)
                response = http.get(path)
                if response.status_code != 200 or not response.content:
                    continue
                root = parse_xml(response.content)
                if schema.validate(root, expected_root=local_name(root)):
                    continue  # only valid documents: the bench measures the common, passing case
                corpus.append(response.content)
                for element in root.iter():
                    href = element.get("href")
                    if not href or href in seen:
                        continue
                    target = urlsplit(href).path
                    # List links: ask for a full page so lists carry their items.
                    if isinstance(element.tag, str) and element.tag.endswith("ListLink"):
                        target += "?s=0&l=255"
                    queue.append(target)
    return corpus


def _rate(fn: Callable[[], None], count: int, seconds: float) -> float:
    """Documents per second of fn (one pass over `count` documents), run for about `seconds`."""
    passes = 0
    start = time.perf_counter()
    while True:
        fn()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return passes * count / elapsed


def main(argv: list[str] | None = None) -> int:
    """Build the corpus, time the three paths, print docs/s and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.6, help="time per path per round")
    parser.add_argument("--schema", type=Path, help="also time raw lxml validation with this XSD (same documents)")
    args = parser.parse_args(argv)

    corpus = collect_corpus()
    kinds = Counter(local_name(parse_xml(doc)) for doc in corpus)
    size = sum(len(doc) for doc in corpus)
    print(f"corpus: {len(corpus)} valid documents, {size / 1024:.0f} KiB, "
          + ", ".join(f"{k}×{n}" for k, n in kinds.most_common()))

    xsd = importlib.resources.files("harness.sep").joinpath("schema/harness2030_5.xsd").read_bytes()
    raw_schema = etree.XMLSchema(etree.fromstring(xsd))
    ours = SchemaSet.bundled()
    # As in a run: the engine builds the schema's structure for its resource views at the first response,
    # and from then on the own checks visit only the elements that can have a check.
    ours.structure()
    raw_trees = [etree.fromstring(doc) for doc in corpus]
    our_trees = [parse_xml(doc) for doc in corpus]
    names = [local_name(root) for root in our_trees]
    assert all(raw_schema.validate(t) for t in raw_trees), "corpus must be valid for raw lxml"
    assert not any(ours.validate(r, n) for r, n in zip(our_trees, names, strict=True)), "corpus must be valid"

    def raw() -> None:
        for tree in raw_trees:
            raw_schema.validate(tree)

    def raw_full() -> None:
        for doc in corpus:
            raw_schema.validate(etree.fromstring(doc))

    def full() -> None:
        for doc, name in zip(corpus, names, strict=True):
            ours.validate(parse_xml(doc), expected_root=name)

    def pre() -> None:
        for root, name in zip(our_trees, names, strict=True):
            ours.validate(root, expected_root=name)

    def gate() -> None:
        for root in our_trees:
            ours.is_valid(root)

    paths: dict[str, Callable[[], None]] = {
        "raw": raw, "raw-full": raw_full, "ours": full, "ours-pre": pre, "ours-gate": gate
    }
    if args.schema is not None:
        other_schema = etree.XMLSchema(etree.parse(str(args.schema)))
        assert all(other_schema.validate(t) for t in raw_trees), f"corpus must be valid against {args.schema}"

        def other() -> None:
            for tree in raw_trees:
                other_schema.validate(tree)

        paths["other"] = other
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for fn in paths.values():
        fn()  # warm-up: lazy imports, caches
    for round_ in range(args.rounds):
        # Rotate the order each round so drift (thermal, other load) does not favour one path.
        order = list(paths)[round_ % len(paths):] + list(paths)[: round_ % len(paths)]
        for name in order:
            rates[name].append(_rate(paths[name], len(corpus), args.seconds))

    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in median.items():
        spread = f"{min(rates[name]):.0f}..{max(rates[name]):.0f}"
        print(f"{name:<9} {value:10.0f} docs/s   (rounds {spread})")
    # The target compares like with like: both sides parse the same bytes and validate them (lxml's plain
    # parser and schema against our hardened parse, schema and own checks).
    ratio_fair = median["ours"] / median["raw-full"]
    verdict = "meets" if ratio_fair >= TARGET_RATIO else "MISSES"
    print(f"SUMMARY validation raw-lxml-parse+validate {median['raw-full']:.0f} docs/s (the baseline)")
    print(f"SUMMARY validation ours-full {median['ours']:.0f} docs/s ratio {ratio_fair:.2f}x "
          f"({verdict} target >= {TARGET_RATIO}x)")
    print(f"SUMMARY validation ours-preparsed {median['ours-pre']:.0f} docs/s; against raw-lxml validate of "
          f"pre-parsed trees ({median['raw']:.0f} docs/s) {median['ours-pre'] / median['raw']:.2f}x")
    print(f"SUMMARY validation ours-schema-gate {median['ours-gate']:.0f} docs/s "
          f"ratio {median['ours-gate'] / median['raw']:.2f}x (the schema stage alone, without our own checks)")
    if "other" in median:
        print(f"SUMMARY validation raw-lxml-other {median['other']:.0f} docs/s with {args.schema} "
              f"(bundled / that {median['raw'] / median['other']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
