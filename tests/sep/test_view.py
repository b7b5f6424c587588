"""The resource view: a child the schema lets repeat is a list however many the document holds."""

from __future__ import annotations

from lxml import etree

from harness.cases.paths import lookup
from harness.sep.schema import SchemaSet
from harness.sep.view import resource_view

NS = 'xmlns="urn:ieee:std:2030.5:ns"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def edev_list(count: int) -> etree._Element:
    items = "".join(f'<EndDevice href="/edev/{n}"><sFDI>{n}</sFDI><changedTime>0</changedTime></EndDevice>'
                    for n in range(1, count + 1))
    return etree.fromstring(f'<EndDeviceList {NS} href="/edev" all="{count}" results="{count}">{items}'
                            "</EndDeviceList>")


def test_repeatable_children_are_lists_whatever_their_count() -> None:
    shape = SchemaSet.bundled().list_shape()
    one, two, none = (resource_view(edev_list(n), shape) for n in (1, 2, 0))
    assert one["EndDevice"] == [{"href": "/edev/1", "sFDI": "1", "changedTime": "0"}]
    assert [d["href"] for d in two["EndDevice"]] == ["/edev/1", "/edev/2"]
    assert "EndDevice" not in none
    # The same path reads both: nothing depends on how many items this page happened to hold.
    assert lookup(one, "EndDevice[0].href") == "/edev/1" and lookup(two, "EndDevice[0].href") == "/edev/1"
    assert lookup(one, "EndDevice[*].href") == ["/edev/1"]


def test_single_children_stay_values_and_xsi_type_decides_the_shape() -> None:
    shape = SchemaSet.bundled().list_shape()
    curve = etree.fromstring(f"<DERCurve {NS}><mRID>01</mRID><creationTime>0</creationTime>"
                             "<CurveData><xvalue>1</xvalue><yvalue>2</yvalue></CurveData>"
                             "<curveType>11</curveType><xMultiplier>0</xMultiplier><yMultiplier>0</yMultiplier>"
                             "<yRefType>3</yRefType></DERCurve>")
    view = resource_view(curve, shape)
    assert view["CurveData"] == [{"xvalue": "1", "yvalue": "2"}] and view["curveType"] == "11"
    note = etree.fromstring(f'<Notification {NS} {XSI}><subscribedResource>/edev</subscribedResource>'
                            f'<Resource xsi:type="EndDeviceList" all="1" results="1"><EndDevice href="/edev/1">'
                            "<sFDI>1</sFDI><changedTime>0</changedTime></EndDevice></Resource><status>0</status>"
                            "<subscriptionURI>https://h.example/s</subscriptionURI></Notification>")
    assert resource_view(note, shape)["Resource"]["EndDevice"] == [
        {"href": "/edev/1", "sFDI": "1", "changedTime": "0"}]


def test_without_a_shape_a_name_seen_twice_is_a_list() -> None:
    assert isinstance(resource_view(edev_list(1))["EndDevice"], dict)
    assert isinstance(resource_view(edev_list(2))["EndDevice"], list)
