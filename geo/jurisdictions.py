"""Which bodies answer for a place: departments' prepared jurisdictions queried against an STRtree of
many points at once (``candidates`` for one point: an STRtree of the jurisdictions). A body with no
jurisdiction answers for the whole city. Among the bodies that handle a category at a point, the most
specific wins: the smallest jurisdiction, then the deeper level, then the lower id, so a point on a
shared edge (covered by both neighbours) gets one owner, always the same one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geo.crs import to_metres

CITY_WIDE = np.inf  # the "area" of a body without a jurisdiction: it loses to any body with one


@dataclass(frozen=True)
class Body:
    id: int
    categories: frozenset[str]
    level: int
    jurisdiction: shapely.Geometry | None
    area_m2: float | None


class JurisdictionIndex:
    """Bodies by category and place; ``owners()`` answers a batch with one tree query."""

    def __init__(self, bodies: Sequence[Body]):
        self.bodies = list(bodies)
        self.ids = np.array([b.id for b in self.bodies], dtype=np.int64)
        area = np.array([CITY_WIDE if b.jurisdiction is None else (b.area_m2 or 0.0) for b in self.bodies])
        # One rank per body: lower is more specific. Smallest area, deeper level, lower id.
        order = np.lexsort((self.ids, -np.array([b.level for b in self.bodies], dtype=np.int64), area))
        self.rank = np.empty(len(self.bodies), dtype=np.int64)
        self.rank[order] = np.arange(len(self.bodies))
        self.categories = sorted({c for b in self.bodies for c in b.categories})
        self._cat = {c: i for i, c in enumerate(self.categories)}
        # handles[c, b]: body b takes category c.
        self.handles = np.zeros((len(self.categories) + 1, len(self.bodies)), dtype=bool)
        for j, b in enumerate(self.bodies):
            for c in b.categories:
                self.handles[self._cat[c], j] = True
        placed = [j for j, b in enumerate(self.bodies) if b.jurisdiction is not None]
        self._placed = np.array(placed, dtype=np.int64)
        self._shapes = np.array([self.bodies[j].jurisdiction for j in placed], dtype=object)
        shapely.prepare(self._shapes)
        self._tree = shapely.STRtree(self._shapes)
        self._city_wide = np.array([j for j, b in enumerate(self.bodies) if b.jurisdiction is None], dtype=np.int64)
        self._by_rank = order
        # A city-wide body ranks after every body with a jurisdiction, so it owns a point only where none
        # of those takes the category: the most specific city-wide body by category, computed once.
        self._city_wide_owner = np.full(len(self.categories) + 1, -1, dtype=np.int64)
        for j in sorted(self._city_wide.tolist(), key=lambda j: int(self.rank[j]), reverse=True):
            self._city_wide_owner[self.handles[:, j]] = j

    def category_code(self, categories: Sequence[str]) -> np.ndarray:
        """Each category's row in ``handles`` (a last, empty row for a category nobody takes)."""
        none = len(self.categories)
        return np.array([self._cat.get(c, none) for c in categories], dtype=np.int64)

    def owners(self, lon: np.ndarray, lat: np.ndarray, categories: Sequence[str]) -> np.ndarray:
        """The owning body's position in ``bodies`` for each point (-1: nobody handles it there)."""
        n = len(lon)
        best = np.full(n, -1, dtype=np.int64)
        if not len(self.bodies) or not n:
            return best
        cat = self.category_code(categories)
        if len(self._placed):
            points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
            # The prepared jurisdictions against a tree of the points, not each point against the raw
            # polygons: the same pairs (intersects is symmetric, and covers the edge: both neighbours),
            # a prepared polygon tests its many candidate points faster.
            geo, pt = shapely.STRtree(points).query(self._shapes, predicate="intersects")
            body = self._placed[geo]
            keep = self.handles[cat[pt], body]
            # One sort of point * bodies + rank: each point's pairs together, the most specific first.
            many = len(self.bodies)
            pt, rank = np.divmod(np.sort(pt[keep] * many + self.rank[body[keep]]), many)
            first = np.ones(len(pt), dtype=bool)
            first[1:] = pt[1:] != pt[:-1]
            best[pt[first]] = self._by_rank[rank[first]]
        left = best < 0
        best[left] = self._city_wide_owner[cat[left]]
        return best

    def candidates(self, lon: float, lat: float, category: str) -> list[int]:
        """Every body that takes ``category`` at the point, most specific first (positions in ``bodies``)."""
        point = shapely.Point(lon, lat)
        found = [int(self._placed[g]) for g in self._tree.query(point, predicate="intersects")]
        found += self._city_wide.tolist()
        code = self.category_code([category])[0]
        return sorted((j for j in found if self.handles[code, j]), key=lambda j: int(self.rank[j]))


def area_m2(shape: shapely.Geometry) -> float:
    """Area in square metres (UTM 48N), never in square degrees."""
    return float(shapely.area(shapely.transform(shape, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))))
