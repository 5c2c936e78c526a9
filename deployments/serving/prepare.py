"""A prediction request's inputs turned into what an exported model takes, by its input schema
(`ModelExport.input_schema`), and its probabilities turned back into labels with scores.

This module imports no Django and nothing of the platform: the serving bundle's stand-alone
server ships it unchanged, so the platform's endpoint and the bundle's server prepare inputs by
the same code and give the same answers.

Inputs, one per item of the request's `inputs` list:
- tabular: a list of numbers in the schema's feature order, or an object {feature name: number}
  naming every feature;
- image: {"image_base64": "<PNG/JPEG/… bytes, base64>"} (decoded with Pillow, converted to the
  schema's mode and size exactly as training prepared images), or {"pixels": [...]} with the
  model's flattened channels-first pixels 0–255 (or that list on its own);
- text: a string (or {"text": "..."}).
Every error is an InputError whose message says what was expected; nothing is guessed.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

# Pillow refuses to decode images past this many pixels (a decompression bomb is an error here,
# not a warning).
MAX_IMAGE_PIXELS = 40_000_000
_TOKEN = re.compile(r"\w+")


class InputError(ValueError):
    """The request's inputs do not fit the model's input schema; the message says why."""


@dataclass(frozen=True)
class Prepared:
    feeds: dict[str, np.ndarray]
    # One row per input as the model sees it (flat pixels, features) or the text: drift
    # statistics and, where the privacy setting stores inputs, the prediction log keep these.
    rows: list[Any]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} must be a number.")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise InputError(f"{where} must be a finite number.") from None
    if not math.isfinite(number):
        raise InputError(f"{where} must be a finite number.")
    return number


def _numbers(values: list, where: str) -> list[float]:
    """`values` as floats, or InputError naming the first that is not a finite number (`where`
    is formatted with its index). The common case, plain finite numbers, is checked in one numpy
    pass: this runs for every input of every prediction."""
    if all(type(v) is float or type(v) is int for v in values):  # bool is not int here
        try:
            array = np.asarray(values, dtype=np.float64)
        except OverflowError:
            array = None
        if array is not None and np.isfinite(array).all():
            return array.tolist()
    return [_number(v, where.format(j)) for j, v in enumerate(values)]


def _tabular_row(schema: dict, value: Any, index: int) -> list[float]:
    names = schema.get("feature_names") or []
    width = int(schema["n_features"])
    if isinstance(value, dict):
        missing = [name for name in names if name not in value]
        unknown = sorted(set(value) - set(names))
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing[:10])}")
            if unknown:
                parts.append(f"unknown {', '.join(str(u)[:40] for u in unknown[:10])}")
            raise InputError(f"inputs[{index}]: {'; '.join(parts)} (expected the features {', '.join(names)}).")
        return [_number(value[name], f"inputs[{index}].{name}") for name in names]
    if isinstance(value, list):
        if len(value) != width:
            raise InputError(f"inputs[{index}] must hold {width} numbers, not {len(value)}.")
        return _numbers(value, f"inputs[{index}][{{}}]")
    raise InputError(f"inputs[{index}] must be a list of {width} numbers or an object of named features.")


def _decode_image(schema: dict, data: str, index: int) -> list[float]:
    if not isinstance(data, str):
        raise InputError(f"inputs[{index}].image_base64 must be a base64 string.")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"inputs[{index}].image_base64 is not valid base64.") from None
    return image_pixels(schema, raw, where=f"inputs[{index}]")


def image_pixels(schema: dict, raw: bytes, *, where: str) -> list[float]:
    """An image file's bytes as the model's flattened channels-first pixels 0-255 (the schema's
    mode and size), or InputError naming `where`. The platform's batch prediction reads a dataset
    version's image files through this too, so a file scores as the same image sent here would."""
    from PIL import Image, UnidentifiedImageError

    image = schema["image"]
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise InputError(f"{where} is too large an image.")
            opened.load()
            picture = opened.convert(image["mode"])
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InputError(f"{where} is not an image Pillow can read.") from None
    size = (int(image["width"]), int(image["height"]))
    if picture.size != size:
        # As training resized images of another size (experiments/inputs.py).
        picture = picture.resize(size, Image.Resampling.BILINEAR)
    array = np.asarray(picture, dtype=np.float32)
    flat = (array[None] if int(image["channels"]) == 1 else array.transpose(2, 0, 1)).reshape(-1)
    return flat.tolist()


def _image_row(schema: dict, value: Any, index: int) -> list[float]:
    width = int(schema["n_features"])
    if isinstance(value, dict) and "image_base64" in value:
        return _decode_image(schema, value["image_base64"], index)
    if isinstance(value, list) or (isinstance(value, dict) and "pixels" in value):
        pixels = value if isinstance(value, list) else value["pixels"]
        if not isinstance(pixels, list) or len(pixels) != width:
            raise InputError(f"inputs[{index}].pixels must hold {width} numbers.")
        return _numbers(pixels, f"inputs[{index}].pixels[{{}}]")
    raise InputError(
        f'inputs[{index}] must be {{"image_base64": "..."}}, or {width} pixel values 0-255 as a list or as '
        f'{{"pixels": [...]}}.'
    )


def _text_row(value: Any, index: int) -> str:
    if isinstance(value, dict) and set(value) == {"text"}:
        value = value["text"]
    if not isinstance(value, str):
        raise InputError(f'inputs[{index}] must be a string or {{"text": "..."}}.')
    return value


def prepare(schema: dict, inputs: Any, *, max_items: int) -> Prepared:
    """The model's feeds for `inputs` (a non-empty list), or InputError."""
    if not isinstance(inputs, list) or not inputs:
        raise InputError('"inputs" must be a non-empty list.')
    if len(inputs) > max_items:
        raise InputError(f"At most {max_items} inputs per request, not {len(inputs)}.")
    kind = schema["kind"]
    first = schema["onnx_inputs"][0]
    if kind == "text":
        texts = [_text_row(value, i) for i, value in enumerate(inputs)]
        if first["dtype"] == "string":
            return Prepared({first["name"]: np.array(texts, dtype=object).reshape(-1, 1)}, texts)
        # As experiments.training.text.Vocab.encode: lower-cased \w+ tokens, unseen words → id 0.
        index = {token: i for i, token in enumerate(schema["text"]["tokens"])}
        ids: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(index.get(token, 0) for token in _TOKEN.findall(text.lower()))
        return Prepared(
            {"ids": np.array(ids, dtype=np.int64), "offsets": np.array(offsets, dtype=np.int64)}, texts
        )
    make_row = _image_row if kind == "image" else _tabular_row
    rows = [make_row(schema, value, i) for i, value in enumerate(inputs)]
    return Prepared({first["name"]: np.asarray(rows, dtype=np.float32)}, rows)


def answers(schema: dict, probabilities: np.ndarray) -> list[dict[str, Any]]:
    """Each input's label (the most probable class), its score and every class's score."""
    classes = schema["classes"]
    out = []
    for row in np.asarray(probabilities, dtype=np.float64):
        best = int(np.argmax(row))
        out.append(
            {
                "label": classes[best],
                "score": round(float(row[best]), 6),
                "scores": {name: round(float(p), 6) for name, p in zip(classes, row, strict=True)},
            }
        )
    return out
