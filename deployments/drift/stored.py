"""A logged prediction's stored input (Prediction.input, kept only where the project's privacy
setting stores inputs) read back as the model's prepared row, by the export's input schema.

The prediction endpoint stores the JSON input it was given. This module reads the shapes that
input can take for one item, and answers None for anything else rather than guess:
  image    a flat list of c·h·w numbers (0–255, channels first), or a base64 string of an image
           file (also either of them under "pixels", "input" or "image" in an object);
  text     a string (also under "text" or "input");
  tabular  an object of feature name → number (also under "features"), or a list of numbers in
           the order of the schema's feature names.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

import numpy as np

_IMAGE_KEYS = ("pixels", "input", "image")
_TEXT_KEYS = ("text", "input")


def image_shape(schema: dict) -> tuple[int, int, int] | None:
    """(channels, height, width) of an image schema."""
    image = schema.get("image") or {}
    try:
        shape = (int(image["channels"]), int(image["height"]), int(image["width"]))
    except (KeyError, TypeError, ValueError):
        return None
    return shape if all(n > 0 for n in shape) else None


def prepared_row(schema: dict, raw: Any) -> np.ndarray | str | None:
    """The stored input as the model took it: flat float32 pixels for an image, the string for a
    text, float64 features in schema order for a tabular input; None when it cannot be read."""
    kind = schema.get("kind")
    if kind == "image":
        return _image_row(schema, raw)
    if kind == "text":
        if isinstance(raw, dict):
            raw = next((raw[k] for k in _TEXT_KEYS if isinstance(raw.get(k), str)), None)
        return raw if isinstance(raw, str) else None
    if kind == "tabular":
        return _tabular_row(schema, raw)
    return None


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _tabular_row(schema: dict, raw: Any) -> np.ndarray | None:
    names = list(schema.get("feature_names") or [])
    if isinstance(raw, dict) and isinstance(raw.get("features"), (dict, list)):
        raw = raw["features"]
    if isinstance(raw, dict) and names:
        return np.array([_number(raw.get(name)) for name in names], dtype=np.float64)
    if isinstance(raw, list) and (not names or len(raw) == len(names)):
        return np.array([_number(v) for v in raw], dtype=np.float64)
    return None


def _image_row(schema: dict, raw: Any) -> np.ndarray | None:
    shape = image_shape(schema)
    if shape is None:
        return None
    if isinstance(raw, dict):
        raw = next((raw[k] for k in _IMAGE_KEYS if isinstance(raw.get(k), (list, str))), None)
    if isinstance(raw, list):
        if len(raw) != math.prod(shape):
            return None
        row = np.array([_number(v) for v in raw], dtype=np.float32)
        return None if np.isnan(row).any() else row
    if isinstance(raw, str):
        return _decoded_image(raw, shape, (schema.get("image") or {}).get("mode") or "L")
    return None


def _decoded_image(encoded: str, shape: tuple[int, int, int], mode: str) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    try:
        data = base64.b64decode(encoded, validate=True)
        with Image.open(io.BytesIO(data)) as im:
            channels, height, width = shape
            # Never more than the platform's own decompression-bomb bound (Pillow's default here).
            if im.width * im.height > Image.MAX_IMAGE_PIXELS:
                return None
            im = im.convert(mode)
            if im.size != (width, height):
                im = im.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(im, dtype=np.float32)
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return array.reshape(-1) if array.size == math.prod(shape) else None


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
