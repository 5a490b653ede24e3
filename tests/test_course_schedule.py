"""When course lessons are due: a pure function of the schedule and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.lessons.courses import Schedule, next_delivery, parse_hhmm
from bot.lessons.pushes import QuietHours, out_of_quiet

DHAKA = ZoneInfo("Asia/Dhaka")  # UTC+6, no daylight saving
QUIET = QuietHours(time(21, 0), time(8, 0))


def dhaka(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=DHAKA)


def test_the_first_lesson_goes_at_the_next_chosen_time() -> None:
    every_two_at_ten = Schedule(2, time(10, 0))
    assert next_delivery(every_two_at_ten, None, dhaka(1, 9), DHAKA, QUIET) == dhaka(1, 10)
    assert next_delivery(every_two_at_ten, None, dhaka(1, 11), DHAKA, QUIET) == dhaka(2, 10)
    # Always answered in UTC.
    assert next_delivery(every_two_at_ten, None, dhaka(1, 9), DHAKA, QUIET).tzinfo == UTC


def test_later_lessons_come_every_n_local_days_at_the_same_hour() -> None:
    schedule = Schedule(3, time(16, 30))
    last = dhaka(1, 16, 30)
    assert next_delivery(schedule, last, last, DHAKA, QUIET) == dhaka(4, 16, 30)
    # Delivered late in the evening (UTC already the next day): still counted in local days.
    late = dhaka(1, 20, 59)
    assert next_delivery(schedule, late, late, DHAKA, QUIET) == dhaka(4, 16, 30)


def test_a_delivery_missed_while_down_is_due_now_not_skipped() -> None:
    schedule = Schedule(1, time(10, 0))
    assert next_delivery(schedule, dhaka(1, 10), dhaka(5, 14), DHAKA, QUIET) == dhaka(5, 14)


def test_nothing_is_due_in_quiet_hours() -> None:
    at_night = Schedule(1, time(22, 0))
    assert next_delivery(at_night, None, dhaka(1, 12), DHAKA, QUIET) == dhaka(2, 8)
    early = Schedule(2, time(6, 30))
    assert next_delivery(early, dhaka(2, 8), dhaka(2, 8), DHAKA, QUIET) == dhaka(4, 8)
    # Back after a night-time outage: the missed lesson waits for the morning.
    assert next_delivery(Schedule(1, time(10, 0)), dhaka(1, 10), dhaka(2, 23), DHAKA, QUIET) == (
        dhaka(3, 8)
    )


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    lunch = QuietHours(time(13, 0), time(14, 0))
    assert out_of_quiet(dhaka(1, 13, 30), DHAKA, lunch) == dhaka(1, 14)
    assert out_of_quiet(dhaka(1, 14), DHAKA, lunch) == dhaka(1, 14)
    assert out_of_quiet(dhaka(1, 23, 30), DHAKA, QUIET) == dhaka(2, 8)
    assert out_of_quiet(dhaka(1, 7, 59), DHAKA, QUIET) == dhaka(1, 8)


def test_naive_times_and_bad_clock_texts_are_refused() -> None:
    with pytest.raises(ValueError):
        next_delivery(Schedule(1, time(10)), None, datetime(2026, 12, 1), DHAKA, QUIET)  # noqa: DTZ001
    for bad in ("10", "25:00", "1:5", "ab:cd"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)
    assert parse_hhmm("7:05") == time(7, 5)
