"""Spoken numbers to digits, and numbers and durations back to speech."""

from __future__ import annotations

import pytest

from assistant.dialogue.numbers import digitize, format_duration, format_number, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("one", 1),
        ("zero", 0),
        ("seven", 7),
        ("twelve", 12),
        ("twenty five", 25),
        ("twenty-five", 25),
        ("one hundred forty four", 144),
        ("one hundred and forty four", 144),
        ("a hundred", 100),
        ("a thousand", 1000),
        ("two thousand and twenty six", 2026),
        ("fifteen hundred", 1500),
        ("one million", 1_000_000),
        ("two point five", 2.5),
        ("zero point three three", 0.33),
        ("point five", 0.5),
        ("minus three", -3),
        ("negative two point five", -2.5),
        ("42", 42),
        ("3.5", 3.5),
        ("1,200", 1200),
        ("-7", -7),
        ("Twelve", 12),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    result = parse_number(text)
    assert result == value
    assert type(result) is type(value)  # "2.5" is a float, "25" an int


@pytest.mark.parametrize("text", ["", "hello", "twelve apples", "one two", "minutes", "second"])
def test_parse_number_refuses_non_numbers(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set a timer for twenty five minutes", "set a timer for 25 minutes"),
        ("what is twelve times seven", "what is 12 times 7"),
        ("two point five plus three", "2.5 plus 3"),
        ("square root of one hundred forty four", "square root of 144"),
        # a lone small number counts ("one minute"), and "second" stays a unit
        ("one minute", "1 minute"),
        ("one second", "1 second"),
        ("wait a second", "wait a second"),
        ("thirty seconds", "30 seconds"),
        ("a hundred and five", "105"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_digitize(text: str, expected: str) -> None:
    assert digitize(text) == expected


@pytest.mark.parametrize(
    ("x", "spoken"),
    [
        (84.0, "84"),
        (84, "84"),
        (3.5, "3.5"),
        (1 / 3, "0.33"),
        (2 / 3, "0.67"),
        (0.1 + 0.2, "0.3"),
        (-2.0, "-2"),
        (-0.5, "-0.5"),
        (0.0, "0"),
        (-0.0, "0"),
        (0.004, "0.004"),
        (0.00123, "0.0012"),
        (1e-20, "0"),
        (2.999, "3"),
        (1024.0, "1024"),
        (10.0**15, "1000000000000000"),
    ],
)
def test_format_number(x: float, spoken: str) -> None:
    assert format_number(x) == spoken


@pytest.mark.parametrize("x", [float("inf"), float("nan")])
def test_format_number_refuses_non_finite(x: float) -> None:
    with pytest.raises(ValueError):
        format_number(x)


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (90, "1 minute and 30 seconds"),
        (300, "5 minutes"),
        (3600, "1 hour"),
        (5400, "1 hour and 30 minutes"),
        (7510, "2 hours, 5 minutes and 10 seconds"),
        (0, "0 seconds"),
    ],
)
def test_format_duration(seconds: int, spoken: str) -> None:
    assert format_duration(seconds) == spoken
