"""Photos: a pixel limit read from the header before any decoding (a 140 KB file can declare 144
megapixels), answered 422 with a clear message in both languages; photos served private, no-store."""

import io
import json
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app import create_app, runtime_of
from config import Config
from data.demo import DEMO_PASSWORD
from data.models import Incident, Photo
from locales import render
from ops import media

TOKEN = "upload-token-0123456789abc"
H = {"Authorization": f"Bearer {TOKEN}"}
FIRE = {"kind": "fire", "category": "住宅火灾", "lon": 106.71, "lat": 26.58, "description": "三楼冒烟"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    return create_app(
        Config(
            database_url=f"sqlite:///{folder / 'u.db'}",
            grid_count=60,
            parking_spaces=60,
            bootstrap_token=TOKEN,
            media_dir=str(folder / "media"),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def grey_png(width: int, height: int, whole: bool = True) -> bytes:
    """A black greyscale PNG of any size; ``whole=False`` stops after a little pixel data (header-only bomb)."""
    packer = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    rows = height if whole else 16
    data = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 16×16 JPEG whose frame header is rewritten to claim ``width``×``height``."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "orange").save(out, "JPEG")
    raw = bytearray(out.getvalue())
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


def counts(app) -> tuple[int, int]:
    with runtime_of(app).store.read() as s:
        return s.scalar(select(func.count()).select_from(Incident)), s.scalar(select(func.count()).select_from(Photo))


@pytest.mark.parametrize(
    "photo",
    [
        pytest.param(lambda: grey_png(7100, 7100), id="png-50-megapixels-valid"),
        pytest.param(lambda: grey_png(12000, 12000, whole=False), id="png-144-megapixels"),
        pytest.param(lambda: grey_png(20000, 20000, whole=False), id="png-400-megapixels"),
        pytest.param(lambda: jpeg_claiming(20000, 20000), id="jpeg-400-megapixels"),
    ],
)
def test_a_photo_over_the_pixel_limit_is_422_before_decoding(app, photo):
    data = photo()
    assert len(data) < 200 * 1024  # small on the wire: the danger is in the header
    before = counts(app)
    client = app.server.test_client()
    started = time.monotonic()
    r = client.post(
        "/api/v1/incidents",
        data={"report": json.dumps(FIRE), "photo": (io.BytesIO(data), "bomb.png")},
        content_type="multipart/form-data",
        headers=H,
    )
    assert r.status_code == 422, r.text
    body = r.get_json()
    assert body["field"] == "photo" and f"{media.MAX_PIXELS // 1_000_000} megapixels" in body["message"]
    assert counts(app) == before
    assert time.monotonic() - started < 20  # refused from the header, not after a 150 MB decode


def test_a_photo_within_the_limit_still_goes_through(app):
    client = app.server.test_client()
    r = client.post(
        "/api/v1/incidents",
        data={"report": json.dumps({**FIRE, "lon": 106.72}), "photo": (io.BytesIO(grey_png(3000, 2000)), "ok.png")},
        content_type="multipart/form-data",
        headers=H,
    )
    assert r.status_code == 201, r.text
    assert len(r.get_json()["photos"]) == 1


def test_the_pixel_limit_message_is_in_both_languages():
    zh = render("zh-CN", "error.photo_too_many_pixels", {"megapixels": 40})
    en = render("en", "error.photo_too_many_pixels", {"megapixels": 40})
    assert "40" in zh and "百万像素" in zh
    assert "40 megapixels" in en


def test_photos_are_served_private_and_not_stored(app, tmp_path):
    client = app.server.test_client()
    sent = client.post(
        "/api/v1/incidents",
        data={"report": json.dumps({**FIRE, "lon": 106.73}), "photo": (io.BytesIO(grey_png(64, 48)), "p.png")},
        content_type="multipart/form-data",
        headers=H,
    )
    assert sent.status_code == 201, sent.text
    (name,) = sent.get_json()["photos"]
    assert client.get(f"/media/{name}").status_code in (302, 401)  # logged out: no photo
    login = client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD, "next": "/"})
    assert login.status_code == 302, login.text
    r = client.get(f"/media/{name}")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.data == (Path(runtime_of(app).config.media_dir) / name).read_bytes()
    cache = r.headers["Cache-Control"]
    assert "private" in cache and "no-store" in cache and "public" not in cache, cache
