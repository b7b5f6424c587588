"""Two editions on the wire: findings for a body in the shape of the edition the test server does not speak.

Devices in the field speak IEEE 2030.5-2018 or the newer edition, whose shapes differ in a few places a
legacy server refuses. The test server speaks one edition per run (2018 by default for CSIP); a body in the
other's shape gets a warning finding naming the element, the edition it belongs to and its 2018 equivalent,
so the vendor knows to switch their "2018 compatibility" mode. The schema findings of the body stand beside
it: this finding explains them, it never replaces them.
"""

from __future__ import annotations

from lxml import etree

from harness.sep import NS
from harness.sep.findings import CHECK, WARNING, Finding

EDITION_2018 = "2018"
EDITION_NEWER = "2.2"
EDITIONS = (EDITION_2018, EDITION_NEWER)

# (resource, element or @attribute) of the newer edition -> what 2030.5-2018 has instead (None: nothing).
NEWER_SHAPES: dict[tuple[str, str], str | None] = {
    ("DERStatus", "connectStatus"): "genConnectStatus",
    ("DERControlResponse", "modesResponded"): None,
    ("MirrorUsagePoint", "@subscribable"): None,
}
# What 2030.5-2018 has that the newer edition renamed: element -> its newer name.
OLDER_SHAPES: dict[tuple[str, str], str] = {("DERStatus", "genConnectStatus"): "connectStatus"}

NOT_VALIDATED = ("the test server validates against the bundled 2030.5-2018 schema only; this body is in the newer "
                 "edition's shape, so only its well-formedness and the 2018 elements it shares were checked")


def _local(tag: object) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and tag.startswith("{") else str(tag)


def edition_findings(root: etree._Element, edition: str) -> list[Finding]:
    """Warnings for each place the body takes the other edition's shape (the run speaks `edition`)."""
    name = _local(root.tag)
    found: list[Finding] = []
    if edition == EDITION_2018:
        version = root.get("schemaVer")
        if version is not None and version.startswith("2.2"):
            found.append(_finding(f"/{name}/@schemaVer", f"schemaVer={version!r} belongs to the newer edition of "
                                  "2030.5; 2018 has no schemaVer on the root (leave it out)"))
        if (name, "") in NEWER_SHAPES:
            found.append(_finding(f"/{name}", f"root element {name} belongs to the newer edition of 2030.5; the "
                                  f"2018 equivalent is {NEWER_SHAPES[(name, '')]}"))
        if (name, "@subscribable") in NEWER_SHAPES and root.get("subscribable") is not None:
            found.append(_finding(f"/{name}/@subscribable", f"attribute subscribable on {name} belongs to the newer "
                                  "edition of 2030.5; 2018 has no equivalent (leave it out)"))
        for child in root:
            key = (name, _local(child.tag))
            if key in NEWER_SHAPES:
                equivalent = NEWER_SHAPES[key]
                instead = f"the 2018 equivalent is {equivalent}" if equivalent else "2018 has no equivalent"
                found.append(_finding(f"/{name}/{key[1]}", f"element {key[1]} of {name} belongs to the newer "
                                      f"edition of 2030.5; {instead}"))
        return found
    for child in root:
        key = (name, _local(child.tag))
        if key in OLDER_SHAPES:
            found.append(_finding(f"/{name}/{key[1]}", f"element {key[1]} of {name} is the 2018 shape; the newer "
                                  f"edition this run speaks calls it {OLDER_SHAPES[key]}"))
    return found


def is_newer_shape(root: etree._Element) -> bool:
    """Whether the body declares or uses the newer edition (so the 2018 schema cannot judge all of it)."""
    if (root.get("schemaVer") or "").startswith("2.2") or (_local(root.tag), "") in NEWER_SHAPES:
        return True
    return any((_local(root.tag), _local(c.tag)) in NEWER_SHAPES for c in root)


def _finding(path: str, message: str) -> Finding:
    return Finding(message=message, line=None, path=path, kind=CHECK, severity=WARNING)


__all__ = ["EDITIONS", "EDITION_2018", "EDITION_NEWER", "NOT_VALIDATED", "edition_findings", "is_newer_shape", "NS"]
