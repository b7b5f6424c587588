"""Checks on IEEE 2030.5 documents that XML Schema cannot express.

Each finding has kind ``check`` and a severity that follows one rule: a failure only for what 2030.5
forbids, a warning for anything else worth showing.

* failure: the root element is the one the request expected, in the 2030.5 namespace (the procedure
  asked for that resource);
* failure: list resources: ``results`` equals the number of items and is <= ``all`` (2030.5 list
  resources, "results: number of items returned in this response");
* failure: URIs 2030.5 requires to be fully-qualified absolute URIs (Subscription notificationURI,
  Notification subscriptionURI and newResourceURI: "SHALL be a fully-qualified absolute URI, not a
  relative reference");
* warning: enumerated codes and bitmaps outside the defined values (table in :mod:`harness.sep.enums`):
  the schema types them as plain integers and the standard only marks the rest "reserved".
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from harness.sep.enums import ENUMERATIONS, Enumeration
from harness.sep.findings import CHECK, SEP_NS, WARNING, XSI_TYPE, Finding, element_path

__all__ = ["own_checks"]


def _index_rules() -> dict[str, list[tuple[list[str], Enumeration]]]:
    """Group the enumeration table by its last path component for quick lookup."""
    index: dict[str, list[tuple[list[str], Enumeration]]] = defaultdict(list)
    for path, rule in ENUMERATIONS.items():
        parts = path.split("/")
        index[parts[-1]].append((parts[:-1], rule))
    return dict(index)


_RULES = _index_rules()

_SEP_PREFIX = "{" + SEP_NS + "}"
# Precomputed for own_checks' single pass: rules keyed by the full tag, so one dict lookup per
# element replaces building a QName; and the attribute names that carry codes.
_ELEMENT_RULES = {_SEP_PREFIX + name: rules for name, rules in _RULES.items() if not name.startswith("@")}
_ATTRIBUTE_RULES = {name[1:]: rules for name, rules in _RULES.items() if name.startswith("@")}
_ENUMERATED_ATTRIBUTES = frozenset(_ATTRIBUTE_RULES)
_ENUMERATED_ATTRIBUTE_NAMES = tuple(sorted(_ATTRIBUTE_RULES))

# Elements whose text 2030.5 requires to be a fully-qualified absolute URI: element -> owning types.
ABSOLUTE_URIS: dict[str, tuple[str, ...]] = {
    "notificationURI": ("Subscription",),
    "subscriptionURI": ("Notification",),
    "newResourceURI": ("Notification",),
}
_ABSOLUTE_URI_TAGS = {_SEP_PREFIX + name: owners for name, owners in ABSOLUTE_URIS.items()}


# What to look at on an element, by its tag: (enumeration rules, absolute-URI owners, check attributes, and
# the texts every enumeration rule of that tag accepts, which skip the rules without parsing anything).
_Plan = tuple[list[tuple[list[str], Enumeration]] | None, tuple[str, ...] | None, bool, frozenset[str]]
_ATTRIBUTES_ONLY: _Plan = (None, None, True, frozenset())
# Above this many children, the walk lets lxml pick the tags that have a plan (a C-level filter that costs a
# few microseconds to set up and then far less per element than a Python loop over every element).
_FILTER_ABOVE = 24


def _accepted_everywhere(rules: list[tuple[list[str], Enumeration]] | None) -> frozenset[str]:
    """Texts no rule of a tag can object to, wherever the element stands (decimal codes only)."""
    if not rules or any(rule.bitmap for _, rule in rules):
        return frozenset()
    common = frozenset.intersection(*(rule.values for _, rule in rules))
    return frozenset(str(v) for v in common)


@functools.cache
def _plans(resource_names: frozenset[str] | None) -> tuple[dict[Any, _Plan], tuple[str, ...]]:
    """Per-tag plans, and the tags that have one; attributes (list counts, subscribable, responseRequired)
    only on resource elements.

    Those attributes belong to resources (lists, SubscribableResource, RespondableResource), which appear
    as global elements or as a Notification's xsi:typed Resource; every other element is a leaf or a link
    and costs one dict lookup. Without resource names (no schema at hand) every element's attributes are
    looked at.
    """
    tags = set(_ELEMENT_RULES) | set(_ABSOLUTE_URI_TAGS)
    resources = {_SEP_PREFIX + name for name in (*(resource_names or ()), "Resource")}
    plans: dict[Any, _Plan] = {
        tag: (_ELEMENT_RULES.get(tag), _ABSOLUTE_URI_TAGS.get(tag), resource_names is None or tag in resources,
              _accepted_everywhere(_ELEMENT_RULES.get(tag)))
        for tag in tags | resources
    }
    return plans, tuple(sorted(plans))


def _plain_values(rules: list[tuple[list[str], Enumeration]]) -> frozenset[str]:
    """Attribute values that break no rule wherever they appear: the walk skips them without parsing."""
    plain = [rule for parents, rule in rules if not parents and rule.when is None]
    if len(plain) != len(rules):
        return frozenset()
    out: set[str] = set()
    for rule in plain:
        if rule.bitmap:
            good = [v for v in range(256) if not any(v >> bit & 1 and bit not in rule.values for bit in range(8))]
            out |= {f"{v:02x}" for v in good} | {f"{v:02X}" for v in good}
        else:
            out |= {str(v) for v in rule.values}
    return frozenset(out)


_PLAIN_ATTRIBUTE_VALUES = {attr: _plain_values(rules) for attr, rules in _ATTRIBUTE_RULES.items()}
_LAST_PLANS: tuple[Any, Any] = (None, None)


def own_checks(root: etree._Element, expected_root: str | None = None,
               resource_names: frozenset[str] | None = None, tags: tuple[str, ...] | None = None,
               root_tag: str | None = None) -> list[Finding]:
    """Run every non-schema check on a document and return its findings.

    root: the parsed document; expected_root: the resource the request asked for (a global element name);
    resource_names: the schema's global element names, which lets the walk skip the attributes of leaf
    elements; tags: the tags that have a check and may occur in a document of this root
    (:func:`reachable_tags`), so that lxml picks the few elements to look at; root_tag: root.tag, when the
    caller has read it already. None of the three changes the result, only the time.
    """
    if root.__class__ is etree._ElementTree:
        root = root.getroot()
    findings = _check_root(root, expected_root, root_tag or root.tag)
    if resource_names is None:
        _walk(root.iter(), _plans(None)[0], _ATTRIBUTES_ONLY, findings)
        return findings
    global _LAST_PLANS
    if _LAST_PLANS[0] is not resource_names:  # one schema per run: skip even the cache's hashing
        _LAST_PLANS = (resource_names, _plans(resource_names))
    plans, every_tag = _LAST_PLANS[1]
    if tags is not None and len(tags) <= 1:
        elements: Any = (root,)  # nothing below the root can have a check
    elif len(root) > _FILTER_ABOVE or (tags is not None and len(tags) <= 4 and len(root) >= 8):
        # lxml's tag filter costs about a microsecond to set up, then far less per element than this loop:
        # worth it for a long list, or for a resource with many children of which few can have a check.
        elements = root.iter(*(tags or every_tag))
    else:
        elements = root.iter()
    _walk(elements, plans, None, findings)
    return findings


# Beyond this many tags lxml's tag filter costs more to set up than it saves; the walk then visits everything.
_MAX_REACHABLE_TAGS = 16


def reachable_tags(structure: Any, element_name: str) -> tuple[str, ...] | None:
    """The tags with a check that may occur in a document whose root is element_name, the root included.

    Follows the schema's content model from the root's type through every child's type and every type an
    xsi:type may put in its place. None when the root is unknown, or when so much is reachable (a
    Notification may carry any resource) that visiting every element is cheaper.
    """
    root_type = structure.global_type(element_name)
    if root_type is None:
        return None
    plans, _ = _plans(frozenset(structure.element_names()))
    names = {element_name}
    seen: set[str] = set()
    todo = [root_type]
    while todo:
        for type_name in structure.derived_types(todo.pop()):
            if type_name in seen:
                continue
            seen.add(type_name)
            info = structure.type_info(type_name)
            if info is None:
                continue
            for child in info.children.values():
                names.add(child.name)
                todo.append(child.type)
    tags = tuple(sorted(tag for tag in (_SEP_PREFIX + name for name in names) if tag in plans))
    return tags if len(tags) <= _MAX_REACHABLE_TAGS else None


def _walk(elements: Any, plans: dict[Any, _Plan], default: _Plan | None, findings: list[Finding]) -> None:
    """The per-element checks, adding to findings. Runs on every response: an element without a plan (most of
    them, and comments, whose tag is a function) costs one tag read and one dict lookup."""
    get = plans.get
    plain = _PLAIN_ATTRIBUTE_VALUES
    for el in elements:
        tag = el.tag
        plan = get(tag, default)
        if plan is None:
            continue
        if default is not None and tag.__class__ is not str:
            continue  # a comment or processing instruction, only reachable through the default plan
        element_rules, owners, attributes, accepted = plan
        if attributes:
            keys = el.keys()
            if keys:
                if "results" in keys and "all" in keys:
                    results, all_ = el.get("results"), el.get("all") or ""
                    # The common case, a consistent list, without building anything.
                    if not (results == str(len(el)) and all_.isdigit() and len(el) <= int(all_)):
                        findings.extend(_check_list(el))
                for attr in _ENUMERATED_ATTRIBUTE_NAMES:
                    if attr in keys and el.get(attr) not in plain[attr] and tag.startswith(_SEP_PREFIX):
                        findings.extend(_check_attribute_enums(el, tag[len(_SEP_PREFIX):]))
                        break
        if element_rules is not None and el.text not in accepted:
            findings.extend(_check_element_enums(el, tag[len(_SEP_PREFIX):], element_rules))
        if owners is not None:
            findings.extend(_check_absolute_uri(el, tag[len(_SEP_PREFIX):], owners))


def _finding(el: etree._Element, message: str, attr: str | None = None, severity: str = "failure") -> Finding:
    """A check finding located at an element (or one of its attributes)."""
    path = element_path(el)
    if attr:
        path += f"/@{attr}"
    return Finding(message=message, line=el.sourceline, path=path, kind=CHECK, severity=severity)


def _check_absolute_uri(el: etree._Element, local: str, owners: tuple[str, ...]) -> list[Finding]:
    """A URI 2030.5 requires to be fully-qualified has a scheme and an authority."""
    parent = el.getparent()
    if parent is None or not any(owner in _names_of(parent) for owner in owners):
        return []
    text = (el.text or "").strip()
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        return []
    owner = next(owner for owner in owners if owner in _names_of(parent))
    return [_finding(el, f"{owner}/{local}: expected a fully-qualified absolute URI (IEEE 2030.5: it SHALL be "
                         f"a fully-qualified absolute URI, not a relative reference), saw {text!r}")]


def _check_root(root: etree._Element, expected_root: str | None, tag: str) -> list[Finding]:
    """Root element is the expected one, in the 2030.5 namespace (an empty list to add to when it is)."""
    if tag == _SEP_PREFIX + expected_root if expected_root else tag.startswith(_SEP_PREFIX):
        return []
    out: list[Finding] = []
    namespace, _, local = root.tag[1:].rpartition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if namespace != SEP_NS:
        seen = namespace or "no namespace"
        out.append(_finding(root, f"expected root element in namespace {SEP_NS}, saw {seen}"))
    if expected_root and local != expected_root:
        out.append(_finding(root, f"expected root element {expected_root}, saw {local}"))
    return out


def _check_list(el: etree._Element) -> list[Finding]:
    """A list's results attribute matches its items and does not exceed all."""
    name = el.tag.rpartition("}")[2]
    try:
        all_ = int(el.get("all", ""))
        results = int(el.get("results", ""))
    except ValueError:
        return []  # not integers: the schema stage reports the bad type
    # In 2030.5 lists every child element is an item; len() is exact unless comments or PIs are present.
    items = len(el)
    if items != results:
        items = sum(1 for child in el if isinstance(child.tag, str))
    out: list[Finding] = []
    if results != items:
        out.append(
            _finding(
                el,
                f'{name}: expected results to equal the number of items ({items}), saw results="{results}"',
                "results",
            )
        )
    if results > all_:
        out.append(
            _finding(
                el,
                f'{name}: expected results <= all, saw results="{results}" and all="{all_}"',
                "results",
            )
        )
    return out


def _names_of(el: etree._Element) -> tuple[str, ...]:
    """Names a path component may match: local name and, if present, the xsi:type's local name."""
    name = el.tag.rpartition("}")[2]
    xsi = el.get(XSI_TYPE)
    if xsi:
        return (name, xsi.rpartition(":")[2])
    return (name,)


def _ancestry_matches(el: etree._Element, parents: list[str]) -> bool:
    """Whether the element's ancestors end with the given names (nearest last)."""
    node = el
    for want in reversed(parents):
        node = node.getparent()
        if node is None or want not in _names_of(node):
            return False
    return True


def _check_element_enums(
    el: etree._Element, local: str, rules: list[tuple[list[str], Enumeration]]
) -> list[Finding]:
    """An enumerated element's value holds a defined code."""
    out: list[Finding] = []
    for parents, rule in rules:
        if _ancestry_matches(el, parents) and _condition_holds(el, rule):
            problem = _judge(el.text, rule)
            if problem:
                label = "/".join([*parents, local])
                out.append(_finding(el, f"{label}: {problem}", severity=WARNING))
    return out


def _check_attribute_enums(el: etree._Element, local: str) -> list[Finding]:
    """Enumerated attributes of one element hold defined codes."""
    out: list[Finding] = []
    for attr, rules in _ATTRIBUTE_RULES.items():
        # Only un-namespaced attributes are 2030.5 fields; xsi:type and the like never match.
        value = el.get(attr)
        if value is None:
            continue
        for parents, rule in rules:
            # For attributes, "parents" includes the owning element itself.
            if parents and parents[-1] not in _names_of(el):
                continue
            if parents[:-1] and not _ancestry_matches(el, parents[:-1]):
                continue
            problem = _judge(value, rule)
            if problem:
                out.append(_finding(el, f"{local}/@{attr}: {problem}", attr, severity=WARNING))
    return out


def _condition_holds(el: etree._Element, rule: Enumeration) -> bool:
    """A rule's ``when`` condition on a sibling element, if any."""
    if rule.when is None:
        return True
    sibling_name, wanted = rule.when
    parent = el.getparent()
    if parent is None:
        return False
    for sib in parent:
        if isinstance(sib.tag, str) and sib.tag.rpartition("}")[2] == sibling_name:
            try:
                return int((sib.text or "").strip()) == wanted
            except ValueError:
                return False
    return False


def _judge(text: str | None, rule: Enumeration) -> str | None:
    """Why a raw value breaks the rule ("expected ..., saw ..."), or None if it is fine."""
    raw = (text or "").strip()
    if rule.bitmap:
        try:
            value = int(raw, 16)
        except ValueError:
            return None  # not hex: the schema stage reports the bad type
        bad = [bit for bit in range(value.bit_length()) if value >> bit & 1 and bit not in rule.values]
        if not bad:
            return None
        return (
            f"reserved bit{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad))} set in {raw} "
            f"(defined bits of {rule.name}: {_describe(rule.values)}; a warning, never a failure)"
        )
    try:
        value = int(raw)
    except ValueError:
        return None  # not an integer: the schema stage reports the bad type
    if value in rule.values:
        return None
    return (f"{value} is a reserved code (defined {rule.name} codes: {_describe(rule.values)}; "
            "a warning, never a failure)")


def _describe(values: frozenset[int]) -> str:
    """Compact text for a value set: "0-5, 80-83"."""
    ordered = sorted(values)
    runs: list[str] = []
    start = prev = ordered[0]
    for v in [*ordered[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}" if prev > start + 1 else f"{start}, {prev}")
        if v is not None:
            start = prev = v
    return ", ".join(runs)
