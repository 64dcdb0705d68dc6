"""Limits defined once (sgpoison.settings): Range, setting() fields and the Settings base class."""

import dataclasses
import math

import numpy as np
import pytest

from sgpoison.errors import SettingsError
from sgpoison.settings import COUNT, SEED, Range, Settings, setting


@pytest.mark.parametrize("limits, inside, outside", [
    (Range(minimum=10, integer=True), [10, 11, np.int64(500)], [9, 10.0, 12.5, True, None, "10", math.nan]),
    (Range(minimum=0, exclusive_maximum=0.5), [0, 0.0, 0.25, 0.4999], [-1e-9, 0.5, math.nan, math.inf, None]),
    (Range(exclusive_minimum=0), [1e-12, 3.0, 7], [0, -1.0, math.inf, -math.inf]),
    (Range(minimum=1, integer=True, optional=True), [None, 1], [0, 1.5]),
    (Range(), [0.0, -5.0, 2], [math.nan, math.inf]),
    # integers beyond int64 and beyond any float: compared exactly, never an OverflowError
    (SEED, [0, 2**63 - 1, np.uint64(2**63 - 1)], [2**63, np.uint64(2**63), 10**23, 10**400, -1]),
    (Range(exclusive_minimum=0), [10**300], [10**400]),
])
def test_range_membership(limits, inside, outside):
    for value in inside:
        assert value in limits, value
    for value in outside:
        assert value not in limits, value


def test_range_describes_itself_and_its_schema():
    assert Range(minimum=10, integer=True).describe() == "an integer >= 10"
    assert Range(minimum=0, exclusive_maximum=0.5).describe() == "a number in [0, 0.5)"
    assert Range(exclusive_minimum=0).describe() == "a number > 0"
    assert Range(maximum=1).describe() == "a number <= 1"
    assert Range().describe() == "a finite number"
    assert COUNT.describe() == "an integer in [1, 2^63 - 1]"
    assert Range(minimum=1, integer=True, optional=True).describe() == "an integer >= 1 (or unset)"
    assert Range(minimum=0, exclusive_maximum=0.5).schema() == {"minimum": 0, "exclusiveMaximum": 0.5}
    assert SEED.describe() == "an integer in [0, 2^63 - 1]"  # exactly, not 9.22337e+18
    assert Range(minimum=0, maximum=2**63, integer=True).describe() == "an integer in [0, 9223372036854775808]"


@dataclasses.dataclass(frozen=True)
class Example(Settings):
    count: int = setting(3, limits=COUNT)
    rate: float = setting(0.1, exclusive_minimum=0, maximum=1)
    mode: str = setting("a", choices=("a", "b"))
    free: str = "anything"


def test_settings_check_every_field_and_name_it():
    assert Example().count == 3
    with pytest.raises(SettingsError, match=r"^count must be an integer in \[1, 2\^63 - 1\], got 0$") as info:
        Example(count=0)
    assert info.value.key == "count" and info.value.option is None
    with pytest.raises(SettingsError, match=r"^unknown mode 'c'; expected one of a, b$") as info:
        Example(mode="c")
    assert info.value.key == "mode"
    with pytest.raises(ValueError):  # a SettingsError is a ValueError
        Example(rate=math.nan)


def test_settings_expose_defaults_limits_and_choices():
    assert Example.default("rate") == 0.1 and Example.limits("rate") == Range(exclusive_minimum=0, maximum=1)
    assert Example.choices("mode") == ("a", "b") and Example.limits("free") is None
    assert Example.check_value("rate", 1.0) == 1.0
    with pytest.raises(SettingsError, match=r"^--rate must be a number in \(0, 1\], got 2") as info:
        Example.check_value("rate", 2, option="--rate")
    assert (info.value.option, info.value.key) == ("--rate", "rate")
    with pytest.raises(KeyError):
        Example.limits("nope")
