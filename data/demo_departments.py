"""The demo city's bodies (部门): Guiyang's city bureaus, their district branches, police stations and
street offices, each with the categories it handles and the area it answers for, built from the
seeded grids in one pass (no per-department query).

The tree, as a Guiyang resident knows it (three levels):

- 市城市管理局 → 区城市管理局 (占道经营, 环境卫生, 垃圾清运, 道路破损, 路灯故障)
- 市市场监督管理局 → 区市场监督管理局 (无照经营, 食品安全)
- 市公安局交通管理局 → 区交警大队 (违章停车, 交通事故)
- 市消防救援支队 → 区消防救援大队 (fires, smoke alarms)
- 市公安局 → 区公安分局 → 派出所 (police cases, 噪音扰民, 一键报警柱): 3 to 6 stations tile a district
- 市人民政府 → 区人民政府 → 街道办事处 (邻里纠纷, 政策咨询, 老人血压异常): one office per group of
  about three communities. A 街道办事处 is the district government's own office (its 派出机关), not
  a part of the 城管局: that is where residents take a neighbours' quarrel or a question about a
  policy, and where the 12345 hotline sends them.
- 市水务管理局 (供水供电), city-wide.

A city bureau answers for the city's outline (the union of every district), not for everywhere: a
case outside the city has no owner and waits in the dispatchers' "no owner" queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo.crs import to_metres
from geo.jurisdictions import area_m2

URBAN_CATEGORIES = ["占道经营", "环境卫生", "垃圾清运", "道路破损", "路灯故障"]
MARKET_CATEGORIES = ["无照经营", "食品安全"]
TRAFFIC_CATEGORIES = ["违章停车", "交通事故"]
FIRE_CATEGORIES = ["住宅火灾", "商铺火灾", "车辆起火", "山林火情", "烟感报警"]
POLICE_CATEGORIES = ["治安警情", "盗窃", "纠纷", "可疑人员", "噪音扰民", "一键报警柱"]
STREET_CATEGORIES = ["邻里纠纷", "政策咨询", "老人血压异常"]
WATER_CATEGORIES = ["供水供电"]

# (code, name, kind, categories) of each city body; the district bodies below take the same kind.
CITY_BODIES = (
    ("city-cg", "市城市管理局", "urban", URBAN_CATEGORIES),
    ("city-sj", "市市场监督管理局", "market", MARKET_CATEGORIES),
    ("city-jj", "市公安局交通管理局", "traffic", TRAFFIC_CATEGORIES),
    ("city-xf", "市消防救援支队", "fire", FIRE_CATEGORIES),
    ("city-ga", "市公安局", "police", POLICE_CATEGORIES),
    ("city-zf", "市人民政府", "government", []),
    ("city-sw", "市水务管理局", "water", WATER_CATEGORIES),
)
# District branches: (code suffix, name suffix, parent code, categories).
DISTRICT_BODIES = (
    ("cg", "城市管理局", "city-cg", URBAN_CATEGORIES),
    ("sj", "市场监督管理局", "city-sj", MARKET_CATEGORIES),
    ("jj", "交警大队", "city-jj", TRAFFIC_CATEGORIES),
    ("xf", "消防救援大队", "city-xf", FIRE_CATEGORIES),
    ("ga", "公安分局", "city-ga", POLICE_CATEGORIES),
    ("zf", "人民政府", "city-zf", []),
)
DISTRICT_SLUGS = {
    "南明区": "nanming",
    "云岩区": "yunyan",
    "花溪区": "huaxi",
    "乌当区": "wudang",
    "白云区": "baiyun",
    "观山湖区": "guanshanhu",
    "开阳县": "kaiyang",
    "息烽县": "xifeng",
    "修文县": "xiuwen",
    "清镇市": "qingzhen",
}
# Demo staff who can sign in (username, department code, display name): a handful, not one per body.
DEMO_DEPARTMENT_STAFF = (
    ("city_cg", "city-cg", "市城管局值班员"),
    ("nanming_cg", "nanming-cg", "南明区城管局值班员"),
    ("nanming_jj", "nanming-jj", "南明区交警大队值班员"),
    ("nanming_xf", "nanming-xf", "南明区消防大队值班员"),
    ("nanming_ga", "nanming-ga", "南明分局值班员"),
)
STATIONS = (3, 6)  # police stations per district: at least, at most
GRIDS_PER_STATION = 40
COMMUNITIES_PER_STREET = 3


@dataclass(frozen=True)
class GridCell:
    district: str
    community: str
    geometry: shapely.Geometry


def slug(district: str, n: int) -> str:
    return DISTRICT_SLUGS.get(district, f"d{n:02d}")


def group(points: np.ndarray, k: int) -> np.ndarray:
    """Split points (metres) into ``k`` compact groups: farthest-point seeds, then a few Lloyd steps.

    Deterministic (no randomness): the same grids always give the same stations.
    """
    k = max(1, min(k, len(points)))
    hubs = [0]
    dist = np.hypot(*(points - points[0]).T)
    for _ in range(1, k):
        hubs.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.hypot(*(points - points[hubs[-1]]).T))
    centres = points[hubs]
    label = np.zeros(len(points), dtype=np.int64)
    for _ in range(8):
        label = np.argmin(np.hypot(*(points[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)), axis=1)
        for j in range(k):
            if (label == j).any():
                centres[j] = points[label == j].mean(axis=0)
    # A group emptied by the steps above takes its seed back, so there are always k groups.
    for j in range(k):
        if not (label == j).any():
            label[hubs[j]] = j
    return label


def _multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)])


def _stem(community: str) -> str:
    return community.removesuffix("社区") or community


def _station_name(district: str, stems: list[str], offset: np.ndarray, taken: set[str]) -> str:
    """A station is named after the community nearest its centre not yet taken by a neighbour, else
    after that community and its side of the district (城东 …)."""
    for stem in stems:
        name = f"{district}{stem}派出所"
        if name not in taken:
            taken.add(name)
            return name
    dx, dy = offset
    side = ("东" if dx > 0 else "西") if abs(dx) > abs(dy) else ("北" if dy > 0 else "南")
    return _unique(f"{district}{stems[0]}{side}派出所", taken)


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}{n}", n + 1
    taken.add(out)
    return out


def department_rows(cells: list[GridCell]) -> list[dict[str, Any]]:
    """Every demo department as a row for ``departments`` (ids from 1, parents before children)."""
    rows: list[dict[str, Any]] = []
    by_code: dict[str, int] = {}

    def add(code: str, name: str, kind: str, categories: list[str], parent: str | None, area: Any) -> None:
        level = 1 if parent is None else rows[by_code[parent] - 1]["level"] + 1
        shape = _multi(area)
        rows.append(
            {
                "id": len(rows) + 1,
                "code": code,
                "name": name,
                "parent_id": by_code[parent] if parent else None,
                "level": level,
                "kind": kind,
                "categories": list(categories),
                "jurisdiction": shape,
                "jurisdiction_m2": area_m2(shape),
                "active": True,
            }
        )
        by_code[code] = len(rows)

    districts: dict[str, list[GridCell]] = {}
    for c in cells:
        districts.setdefault(c.district, []).append(c)
    outlines = {d: shapely.union_all([c.geometry for c in cs]) for d, cs in districts.items()}
    city = shapely.union_all(list(outlines.values()))
    for code, name, kind, categories in CITY_BODIES:
        add(code, name, kind, categories, None, city)
    for n, (district, cs) in enumerate(districts.items(), start=1):
        key = slug(district, n)
        for suffix, name, parent, categories in DISTRICT_BODIES:
            kind = rows[by_code[parent] - 1]["kind"]
            if suffix == "ga" and not district.endswith("区"):
                name = "公安局"  # a county's or county-level city's police is a 县公安局, not a branch
            add(f"{key}-{suffix}", f"{district}{name}", kind, categories, parent, outlines[district])
        geoms = np.array([c.geometry for c in cs], dtype=object)
        centre = shapely.centroid(geoms)
        xy = np.column_stack(to_metres(shapely.get_x(centre), shapely.get_y(centre)))
        # Police stations: 3-6 compact groups of grids that together cover the district exactly.
        k = int(np.clip(round(len(cs) / GRIDS_PER_STATION), *STATIONS))
        label = group(xy, k)
        taken: set[str] = set()
        middle = xy.mean(axis=0)
        for j in range(label.max() + 1):
            members = np.nonzero(label == j)[0]
            at = xy[members].mean(axis=0)
            near = members[np.argsort(np.hypot(*(xy[members] - at).T))]
            stems = [_stem(cs[m].community) for m in near]
            name = _station_name(district, stems, at - middle, taken)
            area = shapely.union_all(geoms[members])
            add(f"{key}-pcs-{j + 1}", name, "police", POLICE_CATEGORIES, f"{key}-ga", area)
        # Street offices: groups of neighbouring communities, under the district government.
        names = sorted({c.community for c in cs})
        of = {c: i for i, c in enumerate(names)}
        member = np.array([of[c.community] for c in cs])
        comm_xy = np.array([xy[member == i].mean(axis=0) for i in range(len(names))])
        street = group(comm_xy, max(1, round(len(names) / COMMUNITIES_PER_STREET)))
        taken = set()
        for j in range(street.max() + 1):
            comms = np.nonzero(street == j)[0]
            hub = comms[np.argmin(np.hypot(*(comm_xy[comms] - comm_xy[comms].mean(axis=0)).T))]
            name = _unique(f"{district}{_stem(names[hub])}街道办事处", taken)
            area = shapely.union_all(geoms[np.isin(member, comms)])
            add(f"{key}-jd-{j + 1}", name, "street", STREET_CATEGORIES, f"{key}-zf", area)
    return rows


def staff_rows(departments: list[dict[str, Any]], first_id: int, password_hash: str) -> list[dict[str, Any]]:
    """The demo's department staff accounts (those whose department exists in this city)."""
    ids = {d["code"]: d["id"] for d in departments}
    out = []
    for username, code, display in DEMO_DEPARTMENT_STAFF:
        if code in ids:
            out.append(
                {
                    "id": first_id + len(out),
                    "username": username,
                    "display_name": display,
                    "role": "staff",
                    "department_id": ids[code],
                    "password_hash": password_hash,
                }
            )
    return out
