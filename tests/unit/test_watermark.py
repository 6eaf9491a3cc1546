"""The watermark: ordered, serialized with a format number, loaded tolerantly."""

from __future__ import annotations

import json

import pytest

from bluegreen.errors import ConfigError
from bluegreen.watermark import Watermark


def test_origin_sorts_before_every_version() -> None:
    assert Watermark.start() < Watermark(0) < Watermark(1) < Watermark(10, "5:10:")
    assert sorted([Watermark(3), Watermark.start(), Watermark(1)])[0].origin


def test_round_trip_keeps_position() -> None:
    w = Watermark(1350, "1340:1350:1342,1345")
    assert Watermark.loads(w.dumps()) == w
    assert Watermark.loads(Watermark.start().dumps()).origin


def test_loads_a_bare_integer_from_a_hand_written_config() -> None:
    assert Watermark.loads("1200") == Watermark(1200)
    assert Watermark.loads(" 7 ") == Watermark(7)
    assert Watermark.loads(42) == Watermark(42)
    assert Watermark.loads(None).origin


def test_loads_ignores_unknown_fields_of_its_format() -> None:
    text = json.dumps({"format": 1, "version": 5, "position": None, "written_by": "x"})
    assert Watermark.loads(text) == Watermark(5)


def test_newer_format_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="newer bluegreen") as err:
        Watermark.loads(json.dumps({"format": 99, "version": 1}))
    assert "upgrade" in str(err.value)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"position": "x"}'])
def test_garbage_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ConfigError, match="watermark"):
        Watermark.loads(text)
