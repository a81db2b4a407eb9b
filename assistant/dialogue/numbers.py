"""Spoken numbers both ways: words to digits for the rule NLU, numbers to text for speech.

Words -> digits is text2num's `alpha2digit` (a maintained, fast parser that
handles "one hundred and forty four", "two point five", "twenty-five").
Around it we fix the few things a voice assistant needs differently: small
isolated numbers ("one minute") are converted too, "second" stays a unit of
time instead of becoming the ordinal "2nd", and "a hundred" means 100.
"""

from __future__ import annotations

import math
import re

from text_to_num import alpha2digit

# Placeholder for "second(s)" while text2num runs, which would read it as the ordinal.
_SECOND = re.compile(r"\bsecond(s?)\b")
_SECOND_MARK = "zzsecondzz"
_SECOND_BACK = re.compile(_SECOND_MARK + r"(s?)")
_A_SCALE = re.compile(r"\ban? (hundred|thousand|million|billion)\b")
_LEADING_POINT = re.compile(r"(?<![\d.])\bpoint (\d+)\b")
_SIGNED = re.compile(r"(?:(minus|negative) )?(\d+(?:\.\d+)?)")


def digitize(text: str) -> str:
    """Spoken numbers in `text` as digits; other words are kept.

    "set a timer for twenty five minutes" -> "set a timer for 25 minutes",
    "two point five plus three" -> "2.5 plus 3". Expects lowercase text.
    """
    t = _A_SCALE.sub(r"one \1", text)
    t = _SECOND.sub(_SECOND_MARK + r"\1", t)
    # threshold=0: convert even a lone "one" or "two", which matter in "one minute".
    t = alpha2digit(t, "en", 0)
    t = _SECOND_BACK.sub(r"second\1", t)
    return _LEADING_POINT.sub(r"0.\1", t)


def parse_number(text: str) -> int | float | None:
    """The whole of `text` as one number, or None.

    "one hundred forty four" -> 144, "two point five" -> 2.5, "minus three" -> -3,
    "1,200" -> 1200. An int when the number has no decimal point.
    """
    t = " ".join(text.lower().replace(",", "").split())
    t = re.sub(r"^-\s*", "minus ", t)
    m = _SIGNED.fullmatch(digitize(t))
    if m is None:
        return None
    value: int | float = float(m[2]) if "." in m[2] else int(m[2])
    return -value if m[1] else value


def format_number(x: float) -> str:
    """A number as it should be spoken: "84", "3.5", "0.33", "-2", "0.004".

    Whole numbers lose their ".0"; others are rounded to two decimals, and a
    small non-zero number keeps two significant digits instead of reading as 0.
    """
    if not math.isfinite(x):
        raise ValueError(f"cannot speak {x!r}")
    r = round(x, 2)
    if r == int(r) and r != 0:
        return str(int(r))
    if r != 0:
        return f"{r:.2f}".rstrip("0").rstrip(".")
    if x == 0:
        return "0"
    places = min(12, 1 - math.floor(math.log10(abs(x))))
    s = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if s in ("0", "-0") else s


def format_duration(seconds: int) -> str:
    """A duration for speech: 300 -> "5 minutes", 5400 -> "1 hour and 30 minutes"."""
    if seconds <= 0:
        return "0 seconds"
    parts = []
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if n:
            parts.append(f"{n} {unit}" + ("" if n == 1 else "s"))
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
