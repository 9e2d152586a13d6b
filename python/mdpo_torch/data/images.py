"""Images as the processor receives them: RGB PIL images read fully from the PNGs the TS side
rendered (so both engines see the same pixels)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..errors import DataError


def load_image(path: Path, *, what: str) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as e:
        raise DataError(f"{what}: {path} cannot be read as an image ({e})") from None
