"""Photos: checked by their bytes (not their name), re-encoded as JPEG so no EXIF (GPS included)
survives, bounded in size, stored under a random name."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ops.errors import Invalid

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = 2048
# A 140 KB PNG can declare 144 megapixels and cost ~740 MB to decode: the size in the header is
# checked before any pixel is. 40 megapixels is above any phone camera's default output.
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG", "PNG", "WEBP"}


@dataclass
class StoredPhoto:
    name: str
    width: int
    height: int


def _too_many_pixels() -> Invalid:
    return Invalid("error.photo_too_many_pixels", {"megapixels": MAX_PIXELS // 1_000_000}, field="photo")


def store_photo(media_dir: str | Path, data: bytes) -> StoredPhoto:
    """Validate and re-encode one photo into ``media_dir``; ``Invalid`` names what is wrong."""
    if len(data) > MAX_BYTES:
        raise Invalid("error.photo_too_large", {"mb": MAX_BYTES // (1024 * 1024)}, field="photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            if probe.format not in FORMATS:
                raise Invalid("error.photo_format", {"format": str(probe.format)}, field="photo")
            if probe.width * probe.height > MAX_PIXELS:
                raise _too_many_pixels()
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a JPEG decodes straight at a reduced scale
        image = image.convert("RGB")
    except Image.DecompressionBombError:  # Pillow's own limit, met at open past ~179 megapixels
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise Invalid("error.photo_unreadable", field="photo") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    folder = Path(media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    image.save(folder / name, "JPEG", quality=85)  # a fresh encode carries no EXIF from the upload
    return StoredPhoto(name, image.width, image.height)
