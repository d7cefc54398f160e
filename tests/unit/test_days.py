"""Local calendar days: numbering, starts across daylight-saving changes, labels."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from app.core.days import day_label, day_number, day_start_ms

NY = ZoneInfo("America/New_York")


def at(text: str, zone: ZoneInfo | type[UTC] = UTC) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)  # type: ignore[arg-type]


def test_a_late_evening_belongs_to_the_local_day() -> None:
    instant = at("2026-03-03 04:30")  # 23:30 on 2 March in New York
    assert day_label(day_number(instant, NY)) == "2026-03-02"
    assert day_label(day_number(instant, UTC)) == "2026-03-03"


def test_daylight_saving_days_are_23_and_25_hours() -> None:
    spring = day_number(at("2026-03-08 12:00", NY), NY)  # clocks go forward
    autumn = day_number(at("2026-11-01 12:00", NY), NY)  # clocks go back
    hour = 3_600_000
    assert day_start_ms(spring + 1, NY) - day_start_ms(spring, NY) == 23 * hour
    assert day_start_ms(autumn + 1, NY) - day_start_ms(autumn, NY) == 25 * hour


@given(st.integers(min_value=0, max_value=4_000_000_000_000),
       st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]))
def test_every_instant_falls_in_its_day(ms: int, name: str) -> None:
    zone = ZoneInfo(name)
    day = day_number(ms, zone)
    assert day_start_ms(day, zone) <= ms < day_start_ms(day + 1, zone)
