"""A logged prediction's stored input (Prediction.input, kept only where the project's privacy
setting stores inputs) read back by the export's input schema.

The prediction log stores each input as the serving side prepared it for the model
(deployments/serving/prepare.py): the flat channels-first pixels 0–255 of an image, the features
of a tabular input in the schema's order, the string of a text. Anything else reads as None.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np


def image_shape(schema: dict) -> tuple[int, int, int] | None:
    """(channels, height, width) of an image schema."""
    image = schema.get("image") or {}
    try:
        shape = (int(image["channels"]), int(image["height"]), int(image["width"]))
    except (KeyError, TypeError, ValueError):
        return None
    return shape if all(n > 0 for n in shape) else None


def prepared_row(schema: dict, raw: Any) -> np.ndarray | str | None:
    """The stored input as the model took it: float pixels for an image, float features for a
    tabular input, the string for a text; None when it is not that."""
    kind = schema.get("kind")
    if kind == "text":
        return raw if isinstance(raw, str) else None
    if kind not in ("image", "tabular") or not isinstance(raw, list):
        return None
    if kind == "image":
        shape = image_shape(schema)
        if shape is None or len(raw) != math.prod(shape):
            return None
    elif schema.get("n_features") and len(raw) != int(schema["n_features"]):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        return None
    row = np.asarray(raw, dtype=np.float64)
    return row if np.isfinite(row).all() else None


def image_png(schema: dict, row: np.ndarray) -> bytes:
    """A prepared pixel row as a PNG file in the schema's mode and size (values clipped to 0–255):
    what a person labels is what the model saw."""
    from PIL import Image

    channels, height, width = image_shape(schema) or (0, 0, 0)
    pixels = np.clip(np.rint(np.asarray(row, dtype=np.float64)), 0, 255).astype(np.uint8)
    pixels = pixels.reshape(channels, height, width)
    # uint8 of (h, w) is read as mode L, of (h, w, 3) as RGB.
    image = Image.fromarray(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
