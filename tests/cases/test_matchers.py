"""Matchers: exact, ranges, presence, regex, one-of, hex, check digit, time, lists in and out of order."""

from __future__ import annotations

import time

import pytest

from harness.cases.matchers import MatcherSpecError, check_spec, match

DCAP = {
    "href": "/dcap",
    "pollRate": "900",
    "TimeLink": {"href": "/tm"},
    "EndDeviceListLink": {"href": "/edev", "all": "4"},
    "EndDevice": [{"href": "/edev/1", "sFDI": "167261211391"}, {"href": "/edev/2", "sFDI": "111115"}],
}


def problems(expected: object, seen: object = DCAP) -> list[str]:
    return [str(m) for m in match(expected, seen)]


def test_partial_resource_match_passes() -> None:
    assert problems({"pollRate": 900, "TimeLink": {"href": "/tm"}, "EndDeviceListLink": {"all": {"min": 3}}}) == []


def test_exact_mismatch_names_path_expected_and_seen() -> None:
    assert problems({"TimeLink": {"href": "/time"}}) == ["resource.TimeLink.href: expected '/time', saw '/tm'"]


def test_numbers_compare_by_value_and_strings_by_text() -> None:
    assert problems({"pollRate": 900.0}) == []
    assert problems({"pollRate": "0900"}) == []
    assert problems({"href": "/DCAP"}) == ["resource.href: expected '/DCAP', saw '/dcap'"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"min": 1000}, "expected a number >= 1000, saw '900'"),
        ({"max": 10}, "expected a number <= 10, saw '900'"),
        ({"regex": "[0-9]{2}"}, "expected a value matching /[0-9]{2}/, saw '900'"),
        ({"one_of": [60, 300]}, "expected one of [60, 300], saw '900'"),
        ({"not": 900}, "expected anything but 900, saw '900'"),
        ({"equals": 901}, "expected 901, saw '900'"),
    ],
)
def test_operators_report_what_they_wanted(spec: dict, message: str) -> None:
    assert problems({"pollRate": spec}) == [f"resource.pollRate: {message}"]


def test_presence_and_absence() -> None:
    assert problems({"TimeLink": "present", "SelfDeviceLink": "absent"}) == []
    assert problems({"SelfDeviceLink": "present"}) == ["resource.SelfDeviceLink: expected present, saw absent"]
    assert problems({"TimeLink": "absent"}) == ["resource.TimeLink: expected absent, saw {'href': '/tm'}"]
    assert problems({"TimeLink": {"present": False}}) == ["resource.TimeLink: expected absent, saw {'href': '/tm'}"]


def test_an_operator_on_an_absent_element_says_absent() -> None:
    assert problems({"quality": {"min": 1}}) == ["resource.quality: expected min 1, saw absent"]


def test_hex_is_case_insensitive_and_check_digit_is_verified() -> None:
    assert match({"hex": "ab12"}, "AB12") == []
    assert match({"check_digit": True}, "167261211391") == []
    assert [str(m) for m in match({"check_digit": True}, "167261211392", "sFDI")] == [
        "sFDI: expected a number whose last digit is the 2030.5 check digit, saw '167261211392'"
    ]


def test_near_now() -> None:
    now = int(time.time())
    assert match({"near_now": 60}, str(now + 30)) == []
    [mismatch] = match({"near_now": 60}, str(now + 3600), "currentTime")
    assert "within 60 s of the harness clock" in mismatch.expected
    assert "+3599 s" in mismatch.seen or "+3600 s" in mismatch.seen


def test_lists_in_order_count_any_order_and_contains() -> None:
    assert problems({"EndDevice": [{"href": "/edev/1"}, {"href": "/edev/2"}]}) == []
    assert problems({"EndDevice": [{"href": "/edev/2"}, {"href": "/edev/1"}]}) == [
        "resource.EndDevice[0].href: expected '/edev/2', saw '/edev/1'",
        "resource.EndDevice[1].href: expected '/edev/1', saw '/edev/2'",
    ]
    assert problems({"EndDevice": {"any_order": [{"href": "/edev/2"}, {"href": "/edev/1"}]}}) == []
    assert problems({"EndDevice": {"count": 2, "contains": [{"sFDI": 111115}]}}) == []
    assert problems({"EndDevice": [{"href": "/edev/1"}]}) == ["resource.EndDevice: expected 1 item(s), saw 2 item(s)"]
    assert problems({"EndDevice": {"contains": [{"sFDI": 5}]}})[0].startswith("resource.EndDevice: expected an item")


def test_a_single_element_counts_as_a_list_of_one() -> None:
    assert match({"Item": [{"a": "1"}]}, {"Item": {"a": "1"}}) == []
    assert match({"Item": {"count": 1}}, {"Item": {"a": "1"}}) == []
    assert match({"Item": {"count": 0}}, {}) == []


def test_booleans_match_xml_booleans() -> None:
    assert match({"enabled": True}, {"enabled": "true"}) == []
    assert match({"enabled": False}, {"enabled": "1"}) != []


def test_spec_checks() -> None:
    check_spec({"a": {"min": 1}, "b": [{"c": "present"}], "d": {"contains": [{"e": 1}]}})
    with pytest.raises(MatcherSpecError, match="mixes matcher operators"):
        check_spec({"a": {"min": 1, "href": "/x"}})
    with pytest.raises(MatcherSpecError, match="expected a list"):
        check_spec({"a": {"one_of": 3}})
    with pytest.raises(MatcherSpecError, match="null"):
        check_spec({"a": None})


def test_uri_names_the_same_resource_in_either_form() -> None:
    assert problems({"href": {"uri": "https://dut.example:8443/dcap"}}) == []
    assert problems({"href": {"uri": "/dcap"}}) == []
    assert problems({"href": {"uri": "/dcap?s=1"}}) == ["resource.href: expected a reference to the same resource "
                                                         "as '/dcap?s=1', saw '/dcap'"]
    assert problems({"href": {"uri": "/tm"}}) != []


def test_hrefs_compare_identity_and_order_only() -> None:
    assert problems({"EndDevice": {"hrefs": ["/edev/1", "/edev/2"]}}) == []
    assert problems({"EndDevice": {"hrefs": ["https://h.example/edev/1", "/edev/2"]}}) == []
    assert problems({"EndDevice": {"hrefs": ["/edev/2", "/edev/1"]}}) == [
        "resource.EndDevice[0].href: expected '/edev/2' (hrefs in this order: ['/edev/2', '/edev/1']), "
        "saw '/edev/1' (hrefs: ['/edev/1', '/edev/2'])"]
    assert problems({"EndDevice": {"hrefs": ["/edev/1"]}}) == [
        "resource.EndDevice: expected 1 item(s) with hrefs ['/edev/1'], saw 2 item(s) with hrefs "
        "['/edev/1', '/edev/2']"]


def test_sorted_by_checks_a_list_order_by_keys_numbers_and_hex_by_value() -> None:
    programs = {"DERProgram": [{"primacy": "4", "mRID": "0B"}, {"primacy": "4", "mRID": "0A"},
                               {"primacy": "10", "mRID": "FF"}]}
    assert match({"DERProgram": {"sorted_by": ["primacy", "-mRID"]}}, programs) == []
    [mismatch] = match({"DERProgram": {"sorted_by": ["primacy", "mRID"]}}, programs)
    assert mismatch.path == "resource.DERProgram[1]"
    assert "ordered by primacy, mRID" in mismatch.expected and "by mRID" in mismatch.seen
    events = {"LogEvent": [{"createdDateTime": "105"}, {"createdDateTime": "99"}]}
    assert match({"LogEvent": {"sorted_by": ["-createdDateTime"]}}, events) == []
    assert match({"LogEvent": {"sorted_by": ["createdDateTime"]}}, events)[0].path == "resource.LogEvent[1]"
    assert match({"Item": {"sorted_by": ["a.b"]}}, {"Item": [{"a": {"b": "1"}}, {"a": {"b": "2"}}]}) == []
    assert match({"Item": {"sorted_by": ["a"]}}, {}) == []  # an empty list is in every order


def test_quantity_compares_the_value_a_multiplier_pair_represents() -> None:
    # CORE-014 errata 23: the read-back is representative, so 6800 W may come back as 680 x 10^1.
    assert match({"quantity": 6800}, {"multiplier": "1", "value": "680"}) == []
    assert match({"quantity": {"equals": 6800, "max": 7000}}, {"multiplier": "0", "value": "6800"}) == []
    assert match({"quantity": 0.9}, {"displacement": "900", "multiplier": "-3"}) == []
    over = match({"quantity": {"equals": 6800, "max": 7000}}, {"multiplier": "1", "value": "720"})
    assert len(over) == 2 and all("7200" in m.seen and "value x 10^multiplier" in m.expected for m in over)
    [absent] = match({"quantity": 6800}, {"multiplier": "0"})
    assert absent.expected == "a quantity: value (or displacement) and multiplier"


def test_a_quantity_must_be_a_number_or_number_matchers() -> None:
    with pytest.raises(MatcherSpecError, match="resource.setMaxW.quantity: expected a number or min/max/equals"):
        check_spec({"setMaxW": {"quantity": "lots"}})


def test_any_order_may_name_a_saved_list_whose_items_must_all_be_seen_again() -> None:
    from harness.cases.variables import substitute

    check_spec({"EndDevice": {"any_order": "${before}"}})
    with pytest.raises(MatcherSpecError, match="expected a list"):
        check_spec({"EndDevice": {"contains": "${before}"}})
    saved = DCAP["EndDevice"]
    spec = substitute({"EndDevice": {"any_order": "${before}"}}, {"before": saved})
    assert problems(spec, {"EndDevice": list(reversed(saved))}) == []
    changed = [saved[0], {**saved[1], "sFDI": "5"}]
    assert problems(spec, {"EndDevice": changed}) == [
        "resource.EndDevice: expected an item matching {'href': '/edev/2', 'sFDI': '111115'} (any_order #1), saw no "
        "unmatched item fits"]


def test_any_of_holds_when_one_expectation_holds_and_uri_takes_a_list() -> None:
    check_spec({"EndDevice": {"any_of": [{"contains": [{"sFDI": 5}]}, {"count": 2}]}})
    with pytest.raises(MatcherSpecError, match="expected a list"):
        check_spec({"EndDevice": {"any_of": {"count": 2}}})
    assert problems({"EndDevice": {"any_of": [{"contains": [{"sFDI": 5}]}, {"count": 2}]}}) == []
    assert problems({"EndDevice": {"any_of": [{"contains": [{"sFDI": 5}]}, {"count": 3}]}})[0].startswith(
        "resource.EndDevice: expected any of [")
    assert problems({"Missing": {"any_of": ["absent", 1]}}) == []
    assert problems({"href": {"uri": ["/edev", "https://h:1/dcap"]}}) == []
    assert problems({"href": {"uri": ["/edev", "/tm"]}}) == [
        "resource.href: expected a reference to the same resource as one of ['/edev', '/tm'], saw '/dcap'"]


def test_of_quantity_compares_a_plain_number_with_a_stated_quantity() -> None:
    stated = {"value": "500", "multiplier": "1"}
    assert match({"of_quantity": stated}, "5000") == []
    assert [str(m) for m in match({"of_quantity": stated}, "4000", "der-settings.setMaxW")] == [
        "der-settings.setMaxW: expected 5000 (the quantity stated: {'value': '500', 'multiplier': '1'}), saw '4000'"]
    # A DER rounds what it states to the precision of its multiplier (45678 W fits an Int16 only as 4568 x 10^1).
    assert match({"of_quantity": {"value": "4568", "multiplier": "1"}}, 45678) == []
    assert match({"of_quantity": {"value": "4568", "multiplier": "1"}}, 45690)[0].expected.startswith("45680")
    assert match({"of_quantity": {"value": "3840", "multiplier": "0"}}, "3840.4") == []
    assert match({"of_quantity": {"value": "3840", "multiplier": "0"}}, "3841") != []
    assert match({"of_quantity": None}, "4000") == []  # nothing stated, nothing to compare
    assert match({"of_quantity": "not a quantity"}, "1")[0].expected.startswith("a number equal to a quantity")
    with pytest.raises(MatcherSpecError, match="of_quantity"):
        check_spec({"setMaxW": {"of_quantity": 5000}})
    check_spec({"setMaxW": {"of_quantity": "${set_w}"}})
