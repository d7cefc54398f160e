import uuid

import pytest

from app.core.hlc import HybridClock, Timestamp, hlc_ms
from app.core.ids import uuid7


def test_uuid7_is_version_7_and_monotonic() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_clock_is_monotonic_even_when_wall_clock_goes_back() -> None:
    wall = iter([1000, 999, 999, 1500, 10]).__next__
    clock = HybridClock(wall=wall)
    stamps = [clock.now() for _ in range(5)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    assert hlc_ms(stamps[-1]) == 1500


def test_observe_moves_clock_past_remote() -> None:
    clock = HybridClock(wall=lambda: 100)
    remote = Timestamp(10_000, 5).encode()
    clock.observe(remote)
    assert clock.now() > remote


def test_decode_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        Timestamp.decode("12.3")


def test_observe_ignores_a_clock_far_ahead_of_the_wall_clock() -> None:
    from app.core.hlc import MAX_AHEAD_MS

    now = 1_732_550_000_000
    clock = HybridClock(wall=lambda: now)
    assert clock.observe("9999999999999.000000") is False  # the year 2286
    assert clock.observe(Timestamp(now + MAX_AHEAD_MS + 1).encode()) is False
    assert hlc_ms(clock.now()) == now
    assert clock.observe(Timestamp(now + MAX_AHEAD_MS).encode()) is True  # at the bound
    assert hlc_ms(clock.last) == now + MAX_AHEAD_MS


def test_observe_ignores_what_is_not_a_clock() -> None:
    clock = HybridClock(wall=lambda: 1_732_550_000_000)
    for bad in ("9999999999999999.999999", "99999999999999.000000", "", "x" * 20,
                "１７３２５５００００００.000000", "+732550000000.000000"):
        assert clock.observe(bad) is False
    assert hlc_ms(clock.now()) == 1_732_550_000_000


def test_decode_accepts_only_ascii_digits() -> None:
    for bad in ("１７３２５５００００００.000000", "+732550000000.000000", " 732550000000.000000",
                "1732550000000.00000-"):
        with pytest.raises(ValueError):
            Timestamp.decode(bad)


def test_the_clock_bound_is_the_schema_bound() -> None:
    from app.core.event_schema import MAX_CLOCK_AHEAD_MS
    from app.core.hlc import MAX_AHEAD_MS

    assert MAX_AHEAD_MS == MAX_CLOCK_AHEAD_MS
