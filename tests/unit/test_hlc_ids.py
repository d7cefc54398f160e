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
