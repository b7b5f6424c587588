"""The DUT's identity as the run observed it: its certificate (hence LFDI/SFDI) and its DeviceInformation."""

from __future__ import annotations

from typing import Any

from harness.sep.identity import with_check_digit
from harness.sep.safexml import XMLRejected, local_name, parse_xml
from harness.sep.view import resource_view

# The DeviceInformation fields a lab reads to identify the build under test.
DEVICE_FIELDS = ("mfModel", "mfInfo", "mfID", "mfSerNum", "mfHwVer", "swVer", "swActTime", "mfDate", "lFDI")
# The profile's device: keys (what the maker declares) and the DeviceInformation element each is compared with
# (IEEE 2030.5 §10.5 DeviceInformation; SelfDevice links one too). The maker's name has no element there.
DECLARED_ELEMENTS = {"manufacturer_id": "mfID", "model": "mfModel", "serial_number": "mfSerNum",
                     "hardware_version": "mfHwVer", "software_version": "swVer"}


def identity_mismatches(declared: dict[str, Any], observed: dict[str, Any]) -> list[dict[str, str]]:
    """Each declared field the observed DeviceInformation contradicts: {field, element, declared, observed}.

    A field the DUT does not serve is not a mismatch (DeviceInformation's elements are mostly optional).
    """
    found = []
    for field, element in DECLARED_ELEMENTS.items():
        served = observed.get(element)
        if field in declared and isinstance(served, str) and str(declared[field]).strip() != served.strip():
            found.append({"field": field, "element": element, "declared": str(declared[field]), "observed": served})
    return found


def identity_from_fingerprint(sha256_hex: str) -> dict[str, Any]:
    """Certificate fingerprint, LFDI and SFDI (IEEE 2030.5 §6.3) from a SHA-256 fingerprint."""
    fingerprint = sha256_hex.upper()
    return {
        "certificate_sha256": fingerprint,
        "lfdi": fingerprint[:40],
        "sfdi": with_check_digit(int(fingerprint[:9], 16)),
    }


def _device_information(body: dict[str, Any] | None) -> dict[str, Any] | None:
    text = (body or {}).get("text")
    # Cheap test first: this runs over every exchange of the run.
    if not text or "DeviceInformation" not in text[:512]:
        return None
    try:
        root = parse_xml(text.encode("utf-8"))
    except XMLRejected:
        return None
    if local_name(root) != "DeviceInformation":
        return None
    view = resource_view(root)
    return {name: view[name] for name in DEVICE_FIELDS if isinstance(view.get(name), str)}


class DutIdentity:
    """Accumulates what the exchanges of a run reveal about the DUT; each finding is kept with its source."""

    def __init__(self, declared: dict[str, Any] | None = None) -> None:
        self.certificate: dict[str, Any] | None = None
        self.other_certificates: list[str] = []
        self.device_information: dict[str, Any] | None = None
        self.declared = dict(declared or {})
        self.mismatches: list[dict[str, str]] = []

    def observe(self, test: dict[str, Any]) -> bool:
        """Look at one test's exchanges; True when the identity changed."""
        changed = False
        for step in test.get("steps", ()):
            for exchange in step.get("exchanges", ()):
                changed = self._observe_tls(exchange.get("tls")) or changed
                if self.device_information is None:
                    changed = self._observe_bodies(test, step, exchange) or changed
        return changed

    def _observe_tls(self, tls: dict[str, Any] | None) -> bool:
        peer = (tls or {}).get("peer_certificate_sha256")
        if not peer:
            return False
        if self.certificate is None:
            self.certificate = identity_from_fingerprint(peer)
            return True
        # A DUT that changes certificate mid-run is worth a line in the report, not a silent overwrite.
        if peer.upper() != self.certificate["certificate_sha256"] and peer.upper() not in self.other_certificates:
            self.other_certificates.append(peer.upper())
            return True
        return False

    def _observe_bodies(self, test: dict[str, Any], step: dict[str, Any], exchange: dict[str, Any]) -> bool:
        for direction, body in (("response", exchange.get("response_body")), ("request", exchange.get("request_body"))):
            fields = _device_information(body)
            if fields is not None:
                fields["source"] = (f"{direction} of {exchange.get('method')} {exchange.get('url')} "
                                    f"({test.get('id')} step {step.get('index')})")
                self.device_information = fields
                self._compare(step, fields)
                return True
        return False

    def _compare(self, step: dict[str, Any], fields: dict[str, Any]) -> None:
        """Declared against served: each difference is kept for the report and is a warning on the step.

        Never a failure: no CSIP procedure requires DeviceInformation to match what the maker told the lab,
        but a lab must see that the device it tested is not the one declared.
        """
        self.mismatches = [{**m, "source": fields["source"]} for m in identity_mismatches(self.declared, fields)]
        for mismatch in self.mismatches:
            step.setdefault("findings", []).append({
                "message": (f"DeviceInformation {mismatch['element']} is {mismatch['observed']!r}, the DUT profile "
                            f"declares device.{mismatch['field']}: {mismatch['declared']!r}"),
                "line": None, "path": f"DeviceInformation/{mismatch['element']}", "kind": "identity",
                "severity": "warning"})

    def fields(self) -> dict[str, Any]:
        """What to merge into run.dut of results.json."""
        found: dict[str, Any] = dict(self.certificate or {})
        if self.other_certificates:
            found["other_certificates_sha256"] = list(self.other_certificates)
        if self.device_information is not None:
            found["device_information"] = dict(self.device_information)
            found["identity_mismatches"] = [dict(m) for m in self.mismatches]
        return found
