"""Java field names as JAXB's xjc derives them from XML names: the member names of CUPID's JSON.

CUPID serialises classes xjc generated from sep.xsd with Gson, which names each JSON member after the Java
field. xjc makes a property name by splitting the XML name into words (at case changes, digit runs and
punctuation), capitalising each; the field is that name with its whole first word lower-cased:
``DERListLink`` -> ``derListLink``, ``lFDI`` -> ``lfdi``, ``mRID`` -> ``mrid``, ``IEEE_802_15_4`` ->
``ieee802154``, ``opModHFRTMustTrip`` -> ``opModHFRTMustTrip``.
"""

from __future__ import annotations

import re
from functools import lru_cache

# An upper-case run that ends before an upper+lower pair ("DER" in "DERList"), a capitalised or lower-case
# word, a remaining upper-case run, or a digit run.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """The words xjc sees in an XML name (``"lFDI"`` is one word once capitalised: ``["LFDI"]``)."""
    out: list[str] = []
    for token in re.split(r"[^A-Za-z0-9]+", name):
        if token:
            token = token[0].upper() + token[1:]
            out.extend(_WORD.findall(token))
    return out


@lru_cache(maxsize=4096)
def field_name(xml_name: str) -> str:
    """The Java field name xjc generates for an element or attribute named xml_name (the JSON member name)."""
    parts = words(xml_name)
    if not parts:
        return xml_name
    head, rest = parts[0].lower(), [p[0].upper() + p[1:] for p in parts[1:]]
    return head + "".join(rest)


@lru_cache(maxsize=1024)
def wrapper_key(class_name: str) -> str:
    """The key CUPID's fromIEEEToJSON wraps a resource in: the class name with its first character lower-cased.

    ``EndDevice`` -> ``endDevice`` but ``DERControl`` -> ``dERControl`` (not the field-name rule).
    """
    return class_name[:1].lower() + class_name[1:]
