"""A fleet tree on the test server over real mutual TLS: one EndDevice per device certificate, each client shown
only its own in the EndDeviceList (CSIP IG §6.1.3), the shared resources unchanged; a tree file's own tree still
shows every client everything."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lxml import etree

from harness.cases.model import DutProfile
from harness.cases.yamlload import YamlFileError
from harness.engine.clock import Clock
from harness.paths import project_dir
from harness.pki import TestPki
from harness.sep import MEDIA_TYPE_XML, NS
from harness.sep.schema import SchemaSet
from harness.sep.tls import client_context
from harness.server.clientrun import ServerFiles, device_variables, start_test_server
from harness.server.fleet import fleet_tree
from harness.server.tree import ServedTree

TREE = project_dir("fixtures") / "trees" / "der-basic.yaml"
NAMES = ("client", "other")


def _root(response: httpx.Response) -> etree._Element:
    assert response.status_code == 200, response
    return etree.fromstring(response.content)


def _http(pki: TestPki, name: str) -> httpx.AsyncClient:
    pair = pki.identities[name]
    return httpx.AsyncClient(verify=client_context(pair.cert, pair.key, pki.ca), timeout=10)


async def test_each_device_of_a_fleet_sees_and_writes_only_its_own_end_device(pki: TestPki) -> None:
    clock = Clock()
    devices = [device_variables(pki.identities[name].cert, 222 + number, name)
               for number, name in enumerate(NAMES)]
    ctx = await start_test_server(DutProfile(role="client"), ServerFiles(pki.server.cert, pki.server.key, pki.ca),
                                  clock, SchemaSet.bundled(), {n: pki.identities[n].cert for n in NAMES})
    server = ctx.test_server
    server.serve(fleet_tree(TREE, devices, {"now": int(clock.now())}, clock.now))
    schema = SchemaSet.bundled()
    status = f'<DERStatus xmlns="{NS}"><readingTime>{int(clock.now())}</readingTime></DERStatus>'
    try:
        for number, (name, device) in enumerate(zip(NAMES, devices, strict=True), start=1):
            async with _http(pki, name) as http:
                listed = _root(await http.get(server.base_url + "/edev", params={"s": 0, "l": 25}))
                assert (listed.get("all"), listed.get("results")) == ("1", "1")
                (own,) = listed.findall(f"{{{NS}}}EndDevice")
                assert own.get("href") == f"/edev/{number}"
                assert own.findtext(f"{{{NS}}}lFDI") == device["lfdi"]
                assert int(own.findtext(f"{{{NS}}}sFDI")) == device["sfdi"]
                assert schema.validate(listed, expected_root="EndDeviceList") == []
                registration = _root(await http.get(server.base_url + f"/edev/{number}/rg"))
                assert registration.findtext(f"{{{NS}}}pIN") == str(device["pin"])
                der = _root(await http.get(server.base_url + f"/edev/{number}/der"))
                assert der.find(f"{{{NS}}}DER/{{{NS}}}DERStatusLink").get("href") == f"/edev/{number}/der/1/ders"
                put = await http.put(server.base_url + f"/edev/{number}/der/1/ders", content=status,
                                     headers={"Content-Type": MEDIA_TYPE_XML})
                assert put.status_code == 204
                programs = _root(await http.get(server.base_url + "/derp"))  # shared: the same for every device
                assert programs.get("all") == "2"
    finally:
        await server.close()
    assert [e.client for e in server.log] == ["client"] * 5 + ["other"] * 5
    assert server.tree.resources["/edev/1/der/1/ders"].raw is not None
    assert server.tree.resources["/edev/2/der/1/ders"].raw is not None
    assert server.tree.owners == {"/edev/1": devices[0]["lfdi"].upper(), "/edev/2": devices[1]["lfdi"].upper()}


def test_a_fleet_repeats_the_template_per_device_and_the_tree_file_alone_shows_all(pki: TestPki) -> None:
    clock = Clock()
    devices = [device_variables(pki.identities[name].cert, None, name) for name in NAMES]
    tree = fleet_tree(TREE, devices, {"now": 0}, clock.now)
    single = ServedTree.load(TREE, {"device": devices[0], "now": 0}, clock.now)
    under = sorted(h.removeprefix("/edev/1") for h in single.resources if h.startswith("/edev/1"))
    assert sorted(h.removeprefix("/edev/2") for h in tree.resources if h.startswith("/edev/2")) == under
    assert tree.resources["/edev"].items == ["/edev/1", "/edev/2"]
    assert set(tree.resources) - set(single.resources) == {h.replace("/edev/1", "/edev/2", 1)
                                                           for h in single.resources if h.startswith("/edev/1")}
    assert tree.resources["/edev/2"].content["RegistrationLink"] == {"href": "/edev/2/rg"}
    everyone = tree.element(tree.resources["/edev"])  # no viewer: a client no EndDevice is owned by
    assert everyone.get("all") == "0"
    copy = tree.copy()
    assert copy.owners == tree.owners and copy.owners is not tree.owners
    assert single.owners == {}
    assert single.element(single.resources["/edev"], viewer=devices[1]["lfdi"].upper()).get("all") == "1"


def test_a_fleet_tree_refuses_no_devices_and_a_file_without_the_template(pki: TestPki, tmp_path: Path) -> None:
    devices = [device_variables(pki.identities["client"].cert, None)]
    with pytest.raises(ValueError, match="at least one device"):
        fleet_tree(TREE, [], {"now": 0}, Clock().now)
    lonely = tmp_path / "lonely.yaml"
    lonely.write_text("resources:\n  /dcap:\n    DeviceCapability: {pollRate: 300}\n")
    with pytest.raises(YamlFileError, match="expected a resource at /edev/1"):
        fleet_tree(lonely, devices, {"now": 0}, Clock().now)
    unlisted = tmp_path / "unlisted.yaml"
    unlisted.write_text("resources:\n  /edev/1:\n    EndDevice: {sFDI: 1}\n")
    with pytest.raises(YamlFileError, match="holding /edev/1"):
        fleet_tree(unlisted, devices, {"now": 0}, Clock().now)
