"""Calendar days in a time zone, numbered from 1970-01-01 (day 0), for daily reports.

A support team's "day" is its own local day, not UTC's: a case created at 23:30 in New
York belongs to that day, not the next. Day numbers are zone-independent labels (day N is
the date 1970-01-01 + N days); their start in epoch milliseconds depends on the zone
(daylight-saving days are 23 or 25 hours long).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

EPOCH_DATE = date(1970, 1, 1)


def day_number(ms: int, zone: tzinfo) -> int:
    """The local day that contains the instant ``ms``."""
    return (datetime.fromtimestamp(ms / 1000, zone).date() - EPOCH_DATE).days


def day_start_ms(day: int, zone: tzinfo) -> int:
    """The first millisecond of local day ``day``."""
    d = EPOCH_DATE + timedelta(days=day)
    return int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)


def day_label(day: int) -> str:
    """``YYYY-MM-DD`` of day ``day``."""
    return (EPOCH_DATE + timedelta(days=day)).isoformat()


def day_of_date(d: date) -> int:
    return (d - EPOCH_DATE).days
