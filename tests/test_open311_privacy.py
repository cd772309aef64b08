"""Open311's public reads: personal data typed into a description is hidden, coordinates are rounded
to ~100 m, and police, fire, alarms and private categories never appear at all."""

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from app import create_app, runtime_of
from config import Config
from data.models import Incident
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from ops.privacy import PUBLIC_DECIMALS, scrub

TOKEN = "open311-privacy-token-0123456789"
SENSITIVE = (("police", "打架斗殴"), ("fire", "住宅火灾"), ("alarm", "烟感报警"), ("ticket", "邻里纠纷"))

# (what a citizen typed, what must vanish, what must stay)
TEXTS = [
    ("我家住在观山湖区3单元502室，楼下烧烤油烟大", ["3单元502室"], ["观山湖区", "楼下烧烤油烟大"]),
    ("联系电话13812345678，晚上十点以后施工", ["13812345678"], ["晚上十点以后施工"]),
    ("请回电 138-1234-5678 或 +86 139 1234 5678", ["1234-5678", "1234 5678"], ["请回电"]),
    ("座机0851-86812345，物业不管", ["86812345"], ["物业不管"]),
    ("举报人身份证520102199003071234，要求保密", ["520102199003071234"], ["要求保密"]),
    ("身份证号52010219900307123X", ["52010219900307123X"], []),
    ("发邮件到 wang.li@example.com 告知结果", ["wang.li@example.com"], ["告知结果"]),
    ("贵A12345长期占用消防通道", ["贵A12345"], ["长期占用消防通道"]),
    ("新能源车贵A·D12345堵门", ["D12345"], ["堵门"]),
    ("5栋2单元1302漏水到楼下", ["1302", "5栋"], ["漏水到楼下"]),
    ("12号楼3层301噪音", ["12号楼", "301"], ["噪音"]),
    ("三楼冒烟，路灯坏了3盏，中华北路100号附近", [], ["三楼冒烟", "路灯坏了3盏", "中华北路"]),
]


@pytest.mark.parametrize(("text", "gone", "kept"), TEXTS, ids=[t[0][:8] for t in TEXTS])
def test_scrub_hides_personal_data_and_keeps_the_rest(text, gone, kept):
    out = scrub(text)
    for secret in gone:
        assert secret not in out, out
    for word in kept:
        assert word in out, out
    if gone:
        assert "***" in out


@pytest.fixture
def app(tmp_path):
    return create_app(
        Config(
            database_url=f"sqlite:///{tmp_path / 'p.db'}",
            grid_count=60,
            parking_spaces=60,
            bootstrap_token=TOKEN,
            media_dir=str(tmp_path / "media"),
        )
    )


def test_public_reads_never_name_a_photo(app):
    """A report's photo is for those who may open the item (/media checks them): no public link to it."""
    from data.models import Photo

    client = app.server.test_client()
    form = {"api_key": TOKEN, "service_code": "noise", "lat": "26.58", "long": "106.71", "description": "装修噪音"}
    rid = client.post("/open311/v2/requests.json", data=form).get_json()[0]["service_request_id"]
    rt = runtime_of(app)
    with rt.store.transaction() as s:
        s.add(Photo(incident_id=int(rid), name="a1b2c3d4e5f6.jpg", width=10, height=10, uploaded_by="reporter"))
    for path in (f"/open311/v2/requests/{rid}.json", "/open311/v2/requests.json", f"/open311/v2/requests/{rid}.xml"):
        answer = client.get(path)
        assert answer.status_code == 200 and "a1b2c3d4e5f6" not in answer.text, path
    one = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert one["media_url"] == ""
    assert client.get("/media/a1b2c3d4e5f6.jpg").status_code in (401, 302)  # and /media is not public anyway


def test_public_reads_scrub_round_and_hide_sensitive_kinds(app):
    client = app.server.test_client()
    form = {
        "api_key": TOKEN,
        "service_code": "noise",
        "lat": "26.581234",
        "long": "106.714567",
        "description": "我住3单元502室，电话13812345678，楼上每晚装修",
    }
    r = client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201, r.text
    rid = r.get_json()[0]["service_request_id"]
    rt = runtime_of(app)
    with rt.store.read() as s:
        kept = s.get(Incident, int(rid))
    assert "13812345678" in kept.description and kept.lat == pytest.approx(26.581234)  # stored whole, for staff

    for answer in (client.get(f"/open311/v2/requests/{rid}.json"), client.get("/open311/v2/requests.json")):
        one = next(x for x in answer.get_json() if x["service_request_id"] == rid)
        assert "13812345678" not in one["description"] and "502" not in one["description"]
        assert "楼上每晚装修" in one["description"]
        assert (one["lat"], one["long"]) == (26.581, 106.715)
        assert round(one["lat"], PUBLIC_DECIMALS) == one["lat"]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{rid}.xml").data)
    assert "13812345678" not in xml.find("request/description").text
    assert xml.find("request/lat").text == "26.581"

    # Police (110), fire, a device alarm and a private ticket category: stored, never public.
    items = [
        NewIncident(kind, category, "t", 106.70, 26.57, 2, "李四 13912345678", "李四", "13912345678")
        for kind, category in SENSITIVE
    ]
    hidden = [str(i) for i in report(rt.store, rt.index, SYSTEM, items, rt.config.sla_minutes)]
    everything = client.get("/open311/v2/requests.json").get_json()
    assert [x["service_request_id"] for x in everything] == [rid]
    for hid in hidden:
        assert client.get(f"/open311/v2/requests/{hid}.json").status_code == 404
        assert client.get(f"/open311/v2/requests.json?service_request_id={hid}").get_json() == []
    with rt.store.read() as s:
        assert len(s.scalars(select(Incident.id)).all()) == 5
