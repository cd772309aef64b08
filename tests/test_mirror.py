"""The merge every in-memory mirror uses, against a plain dictionary doing the same by hand."""

from __future__ import annotations

import numpy as np
import pytest

from data.mirror import upsert_by_id


def as_dict(cols):
    return {int(i): (float(v), str(t)) for i, v, t in zip(cols["id"], cols["v"], cols["t"], strict=True)}


@pytest.mark.parametrize("seed", range(40))
def test_upsert_by_id_matches_a_dictionary(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    ids = np.sort(rng.choice(200, n, replace=False)).astype(np.int64)
    held = {"id": ids, "v": rng.normal(size=n), "t": np.array([f"h{i}" for i in ids], dtype=object)}
    m = int(rng.integers(0, 40))
    # Changed rows: some already held, some new (ids past the end, or in the middle), in any order.
    cid = rng.choice(260, m, replace=False).astype(np.int64)
    changed = {"id": cid, "v": rng.normal(size=m), "t": np.array([f"c{i}" for i in cid], dtype=object)}
    keep = rng.uniform(size=m) < 0.7
    expected = as_dict(held)
    for i, v, t, k in zip(cid, changed["v"], changed["t"], keep, strict=True):
        if k:
            expected[int(i)] = (float(v), str(t))
        else:
            expected.pop(int(i), None)
    before = {k: v.copy() for k, v in held.items()}
    out = upsert_by_id(held, changed, keep)
    assert as_dict(out) == expected
    assert out["id"].tolist() == sorted(expected)  # still sorted by id
    assert all((held[k] == before[k]).all() for k in held)  # what readers hold is never changed
    assert as_dict(upsert_by_id(held, changed)) == {**as_dict(held), **as_dict(changed)}
