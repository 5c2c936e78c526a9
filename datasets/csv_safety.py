"""CSV that is safe to open in a spreadsheet, for every CSV the platform lets people download.

A cell that starts with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula, which can run commands or leak data (OWASP "CSV injection"). Such
cells get a leading apostrophe, which spreadsheets hide and treat as "this is text". Plain numbers
("-1.5", "+3", "-2e-3") are left alone so they stay numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def escape_formula(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_field(value: str) -> str:
    """One field, quoted when it holds a comma, a quote or a line break (RFC 4180). Unlike the
    csv module with a "\\n" terminator, a lone "\\r" is quoted too, so it can't split a record."""
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields: Iterable[str]) -> str:
    return ",".join(csv_field(f) for f in fields) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return escape_formula(str(value))


def write_csv(
    rows: Iterable[Sequence[object] | Mapping[str, object]], fh: IO[str], header: Sequence[str]
) -> None:
    """Write header and rows (sequences in header order, or mappings keyed by header) to a text
    file opened with newline="". Text cells are formula-escaped; numbers are written as numbers."""
    fh.write(csv_line(escape_formula(str(h)) for h in header))
    for row in rows:
        values = [row.get(h) for h in header] if isinstance(row, Mapping) else list(row)
        fh.write(csv_line(_cell(v) for v in values))
