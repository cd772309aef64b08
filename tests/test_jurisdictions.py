"""JurisdictionIndex.owners against a brute-force reference: every body tested at every point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.jurisdictions import Body, JurisdictionIndex

CATEGORIES = ["占道经营", "噪音扰民", "违章停车", "环境卫生"]


def nested_bodies(rng: np.random.Generator) -> list[Body]:
    """City-wide bureaus, quadrant branches, stations on a unit lattice inside them (sharing edges), a few
    multipolygons and overlapping free boxes; some areas equal, so ties go down to level and id."""
    bodies: list[Body] = []
    ids = rng.permutation(np.arange(1, 100)).tolist()  # ids in no relation to the order of the bodies

    def add(level: int, shape: shapely.Geometry | None) -> None:
        cats = frozenset(rng.choice(CATEGORIES, int(rng.integers(1, 4)), replace=False).tolist())
        area = None if shape is None else float(shape.area)
        bodies.append(Body(ids[len(bodies)], cats, level, shape, area))

    for _ in range(3):
        add(1, None)
    for qx in (0, 5):
        for qy in (0, 5):
            add(2, shapely.box(qx, qy, qx + 5, qy + 5))
            for _ in range(6):
                x, y = int(rng.integers(qx, qx + 5)), int(rng.integers(qy, qy + 5))
                w, h = int(rng.integers(1, 3)), int(rng.integers(1, 3))
                add(3, shapely.box(x, y, min(x + w, qx + 5), min(y + h, qy + 5)))
    for _ in range(3):  # two boxes apart, one body
        a, b = rng.integers(0, 9, 2), rng.integers(0, 9, 2)
        add(
            3,
            shapely.MultiPolygon(
                [shapely.box(a[0], a[1], a[0] + 1, a[1] + 1), shapely.box(b[0], b[1], b[0] + 1, b[1] + 1)]
            ),
        )
    for _ in range(4):  # free boxes overlapping anything, at any level, as large as some stations (2 × 1)
        x, y = rng.uniform(-1, 9, 2)
        add(int(rng.integers(1, 4)), shapely.box(x, y, x + 2, y + 1))
    return bodies


def reference(bodies: list[Body], x: float, y: float, category: str) -> int:
    """The most specific body taking the category at the point, by testing each one: -1 for nobody."""
    point = shapely.Point(x, y)
    found = [
        j
        for j, b in enumerate(bodies)
        if category in b.categories and (b.jurisdiction is None or shapely.intersects(b.jurisdiction, point))
    ]
    if not found:
        return -1

    def key(j: int) -> tuple[float, int, int]:
        b = bodies[j]
        area = np.inf if b.jurisdiction is None else (b.area_m2 or 0.0)
        return (area, -b.level, b.id)

    return min(found, key=key)


def sample_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over and around the boxes, a third of them on lattice lines or corners (shared edges)."""
    x, y = rng.uniform(-2, 12, n), rng.uniform(-2, 12, n)
    on_x, on_y = rng.random(n) < 0.3, rng.random(n) < 0.3
    x[on_x] = rng.integers(0, 11, int(on_x.sum()))
    y[on_y] = rng.integers(0, 11, int(on_y.sum()))
    return x, y


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_owners_equal_a_brute_force_reference(seed: int):
    rng = np.random.default_rng(seed)
    bodies = nested_bodies(rng)
    x, y = sample_points(rng, 2000)
    cats = rng.choice([*CATEGORIES, "无人受理"], len(x)).tolist()
    expected = [reference(bodies, a, b, c) for a, b, c in zip(x.tolist(), y.tolist(), cats, strict=True)]
    index = JurisdictionIndex(bodies)
    got = index.owners(x, y, cats)
    assert got.tolist() == expected
    # The data exercise what they are meant to: edges, nested owners, city-wide fallbacks and nobody.
    on_edge = np.isin(x, np.arange(11)) | np.isin(y, np.arange(11))
    assert on_edge.sum() > 400
    placed = {j for j, b in enumerate(bodies) if b.jurisdiction is not None}
    assert len(set(got.tolist()) & placed) > 20
    assert (got == -1).any() and any(int(j) not in placed for j in got if j >= 0)
    # The first candidate is the owner, and another order of the bodies names the same owner.
    for i in range(0, len(x), 97):
        first = index.candidates(float(x[i]), float(y[i]), cats[i])[:1]
        assert first == ([] if got[i] < 0 else [int(got[i])])
    shuffled = [bodies[j] for j in rng.permutation(len(bodies))]
    again = JurisdictionIndex(shuffled)
    ids = np.array([b.id for b in bodies])
    assert (
        np.where(got >= 0, ids[got], -1).tolist()
        == np.where((owner := again.owners(x, y, cats)) >= 0, again.ids[owner], -1).tolist()
    )


def test_one_point_and_no_bodies():
    bodies = [
        Body(1, frozenset({"占道经营"}), 1, None, None),
        Body(2, frozenset({"占道经营"}), 3, shapely.box(0, 0, 1, 1), 1.0),
    ]
    index = JurisdictionIndex(bodies)
    assert index.owners(np.array([0.5]), np.array([1.0]), ["占道经营"]).tolist() == [1]  # on the edge: inside
    assert index.owners(np.array([3.0]), np.array([3.0]), ["占道经营"]).tolist() == [0]
    assert index.owners(np.array([]), np.array([]), []).tolist() == []
    assert JurisdictionIndex([]).owners(np.array([0.5]), np.array([0.5]), ["占道经营"]).tolist() == [-1]
    only_city = JurisdictionIndex(bodies[:1])
    assert only_city.owners(np.array([0.5, 9.0]), np.array([0.5, 9.0]), ["占道经营", "噪音扰民"]).tolist() == [0, -1]
