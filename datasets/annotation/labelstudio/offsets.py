"""Text span offsets between our code points and Label Studio's units.

Ours are Unicode code points (Python string indices). Label Studio's labelling
UI stores code points for `<Text>` regions too: its text model splits strings with `[...text]`
(checked on LS 1.23.2 by labelling words after emoji in its real UI, see
tests/annotation/labelstudio/test_server.py). Older releases stored JavaScript string indices
(UTF-16 code units; LS issue #1347, fixed by label-studio-frontend #308), which differ from code
points after any character outside the Basic Multilingual Plane (emoji, 𝔘, some CJK); Devanagari,
Tamil, Bengali and Urdu are inside it, so there both units agree. So:

- `export_campaign(..., offsets="codepoints")` (the default) writes what current LS expects;
  `offsets="utf16"` writes what an old LS expects.
- `parse_export(..., offsets="auto")` (the default) reads code points, unless a span's `text` only
  matches the item's text when its offsets are read as UTF-16 units (an export of an old LS).
"""

from __future__ import annotations


def all_bmp(text: str) -> bool:
    return not text or max(text) <= "\uffff"


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units, i.e. JavaScript's `text.length`."""
    if all_bmp(text):
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def codepoint_to_utf16(text: str, offset: int) -> int:
    """The UTF-16 offset (JavaScript string index) of code point offset `offset` in `text`."""
    if not 0 <= offset <= len(text):
        raise ValueError(f"offset {offset} is outside a text of {len(text)} code points")
    return utf16_length(text[:offset])


def utf16_to_codepoint(text: str, offset: int) -> int:
    """The code point offset (Python string index) of UTF-16 offset `offset` in `text`; refuses an
    offset that falls between the two halves of a surrogate pair."""
    if offset < 0:
        raise ValueError(f"UTF-16 offset {offset} is negative")
    if all_bmp(text):
        if offset > len(text):
            raise ValueError(f"UTF-16 offset {offset} is outside a text of {len(text)} code units")
        return offset
    units = 0
    for index, char in enumerate(text):
        if units == offset:
            return index
        units += 2 if char > "\uffff" else 1
        if units > offset:
            raise ValueError(f"UTF-16 offset {offset} falls inside the surrogate pair of {char!r} at {index}")
    if units == offset:
        return len(text)
    raise ValueError(f"UTF-16 offset {offset} is outside a text of {units} code units")

