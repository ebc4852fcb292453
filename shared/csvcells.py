"""CSV files as spreadsheets open them: every export writes its cells through here.

- UTF-8 with a byte order mark, so Excel reads "Zoë Ñúñez" as written rather than as Windows-1252 mojibake
  (LibreOffice and Python's `utf-8-sig` take the mark in their stride).
- A cell that a spreadsheet would run as a formula (text starting =, +, -, @, a tab or a carriage return: CSV
  injection) is kept as text with a leading apostrophe. A number is left a number: -12.50 is a refund or a fall
  in attendance, not a formula, and finance must be able to add it up.
- Rows end with CRLF (RFC 4180); a missing value is an empty cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from aiohttp import web

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number, as the exports write amounts and counts ("-12.50", "96", "+3"): the whole cell, so
# "-1+cmd|' /C calc'!A0" is not one.
NUMBER = re.compile(r"[+-]?(\d+(\.\d+)?|\.\d+)")


def cell(value: Any) -> str:
    """One cell's text: numbers as they are, text that would start a formula guarded, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    if text[:1] in FORMULA_STARTS and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_bytes(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """The whole file: the byte order mark, the header row and every row, each cell through `cell`."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def csv_response(header: Iterable[str], rows: Iterable[Iterable[Any]], filename: str) -> web.Response:
    """A CSV download: never cached (it holds children's names and money), never sniffed as anything else."""
    return web.Response(body=csv_bytes(header, rows), content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
