"""The checks a constructor makes of the values it is given, one helper per kind of value.

Each helper returns the value (converted: `number` gives a float) or raises `BadValue`,
"<key> must be <what>, got <value>", where `key` is the argument's name. A value that came from a
config node is reported under the node's key, so the message names the config key once:
`loss.objective.label_smoothing must be a number in [0, 1), got 2` (ganlab.cli.user_message for what
Hydra instantiates; `under(key)` for an object built from a partial, e.g. the EMA around G).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ganlab.config_checks import ConfigError

T = TypeVar("T")


class BadValue(ConfigError):
    """A value a constructor refuses: `<key> must be <what>, got <value>`."""

    def __init__(self, key: str, what: str, value: Any):
        self.key, self.what, self.value = key, what, value
        super().__init__(f"{key} must be {what}, got {value!r}")

    def under(self, node: str) -> BadValue:
        """The same error for the value at `node.key` of the config."""
        return BadValue(f"{node}.{self.key}", self.what, self.value)


@contextlib.contextmanager
def under(node: str) -> Iterator[None]:
    """Reports a BadValue raised inside as the value at `node.<key>` of the config."""
    try:
        yield
    except BadValue as error:
        raise error.under(node) from None


def is_int(value: Any) -> bool:
    """An int, not a bool (True is an int to Python, never to a config)."""
    return isinstance(value, int) and not isinstance(value, bool)


def flag(value: Any, key: str) -> bool:
    """true or false (not 0 / 1, nor a string)."""
    if not isinstance(value, bool):
        raise BadValue(key, "true or false", value)
    return value


def integer(value: Any, key: str, low: int | None = None, high: int | None = None) -> int:
    """An integer in [low, high] (either end open when None)."""
    if not (is_int(value) and (low is None or value >= low) and (high is None or value <= high)):
        what = ("a positive integer" if low == 1 and high is None else "an integer" if low is None and high is None
                else f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]")
        raise BadValue(key, what, value)
    return value


def positive_int(value: Any, key: str) -> int:
    return integer(value, key, low=1)


def count(value: Any, key: str) -> int:
    """An integer >= 0."""
    return integer(value, key, low=0)


def number(value: Any, key: str, low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite number in the interval [low, high] (an end is open with `low_open` / `high_open`,
    absent when None); returned as a float."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (low is None or (value > low if low_open else value >= low))
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        if high is None and low == 0:
            what = "a positive number" if low_open else "a non-negative number"
        elif high is None:
            what = "a number" if low is None else f"a number {'>' if low_open else '>='} {low:g}"
        elif low is None:
            what = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise BadValue(key, what, value)
    return float(value)


def positive(value: Any, key: str) -> float:
    return number(value, key, low=0.0, low_open=True)


def non_negative(value: Any, key: str) -> float:
    return number(value, key, low=0.0)


def probability(value: Any, key: str) -> float:
    """A number in [0, 1]."""
    return number(value, key, 0.0, 1.0)


def or_null(check: Callable[[Any, str], T], value: Any, key: str, meaning: str = "") -> T | None:
    """None, or `value` as `check(value, key)` accepts it; the error says "<what> or null (<meaning>)",
    e.g. `or_null(positive, x, "max_abs_loss", "no bound")`."""
    if value is None:
        return None
    try:
        return check(value, key)
    except BadValue as error:
        raise BadValue(key, f"{error.what} or null" + (f" ({meaning})" if meaning else ""), value) from None
