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
FORMATS = {"JPEG", "PNG", "WEBP"}


@dataclass
class StoredPhoto:
    name: str
    width: int
    height: int


def store_photo(media_dir: str | Path, data: bytes) -> StoredPhoto:
    """Validate and re-encode one photo into ``media_dir``; ``Invalid`` names what is wrong."""
    if len(data) > MAX_BYTES:
        raise Invalid("error.photo_too_large", {"mb": MAX_BYTES // (1024 * 1024)}, field="photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.format not in FORMATS:
            raise Invalid("error.photo_format", {"format": str(image.format)}, field="photo")
        image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise Invalid("error.photo_unreadable", field="photo") from exc
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    folder = Path(media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    image.save(folder / name, "JPEG", quality=85)  # a fresh encode carries no EXIF from the upload
    return StoredPhoto(name, image.width, image.height)
