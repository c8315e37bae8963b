"""Turning EDIFACT text into typed values: numbers with the advised decimal mark, and dates by
their format qualifier (data element 2379).

Both functions return None for text that does not parse; the caller turns that into a finding.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)\Z")


def to_decimal(text: str, decimal_mark: str = ".") -> Decimal | None:
    """``12,50`` with mark ``,`` → ``Decimal("12.50")``. Only the advised mark is a decimal mark;
    a number written with the other one (``12.50`` under ``,``) does not parse."""
    if text.isdigit() and text.isascii():
        return Decimal(text)
    if decimal_mark != ".":
        if "." in text:
            return None
        text = text.replace(decimal_mark, ".")
    if _NUMBER.match(text) is None:
        return None
    return Decimal(text)


# Date/time formats (UNCL 2379) that name a calendar day, written in the tokens of
# `_parse_part`: C century, Y year, M month, D day, W week, h hour, m minute, s second (two
# digits each), Z a three-character time zone, "-" between the start and end of a period.
# A period (7xx) yields its start; a month without a day yields the month's first day, a week
# its Monday.
DATE_FORMATS: dict[str, str] = {
    "2": "DMY",
    "3": "MDY",
    "101": "YMD",
    "102": "CYMD",
    "201": "YMDhm",
    "202": "YMDhms",
    "203": "CYMDhm",
    "204": "CYMDhms",
    "301": "YMDhmZ",
    "302": "YMDhmsZ",
    "303": "CYMDhmZ",
    "304": "CYMDhmsZ",
    "609": "YM",
    "610": "CYM",
    "615": "YW",
    "616": "CYW",
    "709": "YM-YM",
    "710": "CYM-CYM",
    "711": "CYMD-CYMD",
    "713": "YMDhm-YMDhm",
    "715": "YW-YW",
    "716": "CYW-CYW",
    "717": "YMD-YMD",
    "718": "CYMD-CYMD",
}

# Without 2379 a date is read by its length (the common practice of senders that omit it).
_BY_LENGTH = {8: "102", 12: "203", 14: "204"}

TWO_DIGIT_PIVOT = 70  # YY below this is 20YY, otherwise 19YY


def date_format_for(text: str, format_code: str) -> str | None:
    """The 2379 code to read `text` with: the given one, or one guessed from the length."""
    if format_code:
        return format_code
    return _BY_LENGTH.get(len(text))


def to_date(text: str, format_code: str) -> dt.date | None:
    """The calendar day `text` names in 2379 format `format_code` (the start of a period)."""
    if format_code == "102" and len(text) == 8 and text.isdigit() and text.isascii():
        try:  # the format nearly every message uses, read directly
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    pattern = DATE_FORMATS.get(format_code)
    if pattern is None:
        return None
    parts = pattern.split("-")
    pieces = text.split("-") if len(parts) > 1 else [text]
    if len(pieces) != len(parts):
        return None
    days = [_parse_part(piece, part) for piece, part in zip(pieces, parts, strict=True)]
    if any(day is None for day in days):
        return None
    return days[0]


def _parse_part(text: str, pattern: str) -> dt.date | None:
    if len(text) != 2 * len(pattern) + pattern.count("Z"):
        return None
    fields: dict[str, int] = {}
    at = 0
    for token in pattern:
        if token == "Z":
            at += 3
            continue
        digits = text[at : at + 2]
        if not (digits.isascii() and digits.isdigit()):
            return None
        fields[token] = int(digits)
        at += 2
    if fields.get("h", 0) > 24 or fields.get("m", 0) > 59 or fields.get("s", 0) > 59:
        return None
    year = fields["Y"]
    if "C" in fields:
        year += 100 * fields["C"]
    else:
        year += 2000 if year < TWO_DIGIT_PIVOT else 1900
    try:
        if "W" in fields:
            return dt.date.fromisocalendar(year, fields["W"], 1)
        return dt.date(year, fields["M"], fields.get("D", 1))
    except ValueError:
        return None
