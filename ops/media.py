"""Photos: checked by their bytes (not their name), re-encoded as JPEG so no EXIF (GPS included)
survives, bounded in size, stored under a random name; read back only by those who may see their item.

Who may read a photo is who may open its item (``ops.permissions.incident_visible``): the command
centre and supervisors, the whole city; a department's staff, the cases their department (or one
below it) owns now (a case handed on takes its photos with it); a grid worker, the items of their
tasks (current or past) and of their own grid (they check reports there on site). Nobody else.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from data.models import Incident, Photo
from data.store import Store
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid, NotFound
from ops.permissions import incident_visible

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


def readable_photo(store: Store, actor: Actor, name: str) -> str:
    """The file name of a photo ``actor`` may see. ``NotFound`` for a name no item has, whoever asks
    (so a name tells nothing); ``Forbidden`` when its item is not the actor's to see."""
    with store.read() as s:
        item = s.execute(
            select(Incident.id, Incident.grid_id, Incident.department_id)
            .join(Photo, Photo.incident_id == Incident.id)
            .where(Photo.name == name)
        ).first()
    if item is None:
        raise NotFound("error.photo_missing")
    if not incident_visible(store, actor, item._asdict()):
        raise Forbidden("error.photo_not_yours")
    return name
