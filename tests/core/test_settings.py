from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcbench.core.errors import ConfigError
from gcbench.core.settings import expand_range, format_setting, numeric_value, parse_setting, parse_settings, split_codec_arg


def test_parse_settings_kinds() -> None:
    assert parse_settings("50,75") == [50, 75]
    assert parse_settings("0.5, 1.25") == [0.5, 1.25]
    assert parse_settings("fast") == ["fast"]
    assert parse_settings("10,20:40:10") == [10, 20, 30, 40]
    assert all(isinstance(v, int) for v in parse_settings("20:40:10"))


def test_float_range_is_exact_and_inclusive() -> None:
    values = expand_range("1.0:3.0:0.25")
    assert values == [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0]
    assert [format_setting(v) for v in expand_range("0.1:0.3:0.1")] == ["0.1", "0.2", "0.3"]


@pytest.mark.parametrize("bad", ["1:2", "3:1:1", "1:2:0", "a:b:c", "1:2:-1"])
def test_bad_ranges(bad: str) -> None:
    with pytest.raises(ConfigError):
        expand_range(bad)


def test_split_codec_arg() -> None:
    assert split_codec_arg("jpeg@50,75") == ("jpeg", [50, 75])
    assert split_codec_arg("webp") == ("webp", None)
    with pytest.raises(ConfigError):
        split_codec_arg("@50")


def test_settings_sort_numerically() -> None:
    values = [parse_setting(s) for s in ["10", "9", "100", "2.5"]]
    assert sorted(values, key=numeric_value) == [2.5, 9, 10, 100]
    assert numeric_value("preset") is None


@given(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=64)))
def test_format_then_parse_round_trips(value: float) -> None:
    text = format_setting(value)
    back = parse_setting(text)
    assert back == value and type(back) is type(value)


def test_non_finite_and_bool_settings_are_refused() -> None:
    for bad in (float("inf"), float("nan"), True):
        with pytest.raises(ConfigError):
            format_setting(bad)
