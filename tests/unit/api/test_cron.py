"""CronJob schedules: robfig/cron's parse errors, and next-run times across zones and DST."""

from __future__ import annotations

import datetime as dt

import pytest

from kubelite.api import cron


def _next(spec: str, after: str) -> str | None:
    found = cron.parse_standard(spec).next(dt.datetime.fromisoformat(after))
    return None if found is None else found.isoformat()


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # Every minute: the next whole minute, strictly after.
        ("*/1 * * * *", "2024-01-01T00:00:30+00:00", "2024-01-01T00:01:00+00:00"),
        ("*/1 * * * *", "2024-01-01T00:01:00+00:00", "2024-01-01T00:02:00+00:00"),
        ("*/15 * * * *", "2024-01-01T00:46:00+00:00", "2024-01-01T01:00:00+00:00"),
        # `N/step` runs from N to the field's maximum.
        ("5/20 * * * *", "2024-01-01T00:26:00+00:00", "2024-01-01T00:45:00+00:00"),
        ("0 9-17/4 * * *", "2024-01-01T13:00:00+00:00", "2024-01-01T17:00:00+00:00"),
        # Macros.
        ("@hourly", "2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+00:00"),
        ("@daily", "2024-01-01T10:00:00+00:00", "2024-01-02T00:00:00+00:00"),
        ("@weekly", "2024-01-01T10:00:00+00:00", "2024-01-07T00:00:00+00:00"),
        ("@monthly", "2024-01-15T00:00:00+00:00", "2024-02-01T00:00:00+00:00"),
        ("@yearly", "2024-01-15T00:00:00+00:00", "2025-01-01T00:00:00+00:00"),
        ("@every 90s", "2024-01-01T00:00:00.5+00:00", "2024-01-01T00:01:30+00:00"),
        # Names, any case.
        ("0 0 * JAN,feb Sun", "2024-01-28T01:00:00+00:00", "2024-02-04T00:00:00+00:00"),
        # Day of month and day of week both restricted: either matches.
        ("0 0 13 * 5", "2024-09-01T00:00:00+00:00", "2024-09-06T00:00:00+00:00"),
        # One of them `*`: both must match (the 13th that is a Friday).
        ("0 0 13 * *", "2024-09-01T00:00:00+00:00", "2024-09-13T00:00:00+00:00"),
        ("0 0 29 2 *", "2024-03-01T00:00:00+00:00", "2028-02-29T00:00:00+00:00"),
        # A day that never comes: no run within five years.
        ("0 0 31 2 *", "2024-01-01T00:00:00+00:00", None),
    ],
)
def test_next_run_in_utc(spec: str, after: str, expected: str | None) -> None:
    assert _next(spec, after) == expected


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
        ("TZ=Europe/Berlin 0 3 * * *", "2024-01-10T12:00:00+00:00", "2024-01-11T02:00:00+00:00"),
        ("TZ=Europe/Berlin 0 3 * * *", "2024-07-10T12:00:00+00:00", "2024-07-11T01:00:00+00:00"),
        (
            "CRON_TZ=Asia/Kolkata 30 9 * * *",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T04:00:00+00:00",
        ),
        # New York springs forward at 02:00 on 10 March 2024: the 02:30 run is skipped that day.
        (
            "TZ=America/New_York 30 2 * * *",
            "2024-03-09T12:00:00+00:00",
            "2024-03-11T06:30:00+00:00",
        ),
        # The hour after the gap runs as usual, at its new offset.
        (
            "TZ=America/New_York 30 3 * * *",
            "2024-03-09T12:00:00+00:00",
            "2024-03-10T07:30:00+00:00",
        ),
        # It falls back at 02:00 on 3 November 2024: 01:30 comes twice and runs twice.
        (
            "TZ=America/New_York 30 1 * * *",
            "2024-11-03T04:00:00+00:00",
            "2024-11-03T05:30:00+00:00",
        ),
        (
            "TZ=America/New_York 30 1 * * *",
            "2024-11-03T05:30:00+00:00",
            "2024-11-03T06:30:00+00:00",
        ),
        # Daily at midnight across the spring change stays at local midnight.
        (
            "TZ=America/New_York 0 0 * * *",
            "2024-03-10T06:00:00+00:00",
            "2024-03-11T04:00:00+00:00",
        ),
    ],
)
def test_next_run_in_a_time_zone(spec: str, after: str, expected: str) -> None:
    assert _next(spec, after) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* 24 * * *", "end of range (24) above maximum (23): 24"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * 13 *", "end of range (13) above maximum (12): 13"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        (
            "TZ=Mars/Olympus * * * * *",
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
        ),
    ],
)
def test_schedules_robfig_refuses(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as caught:
        cron.parse_standard(spec)
    assert str(caught.value) == message


def test_go_date_resolves_skipped_and_repeated_wall_times_as_go_does() -> None:
    zone = cron.load_zone("America/New_York")
    # 02:30 does not exist on 10 March 2024: Go lands on 01:30 EST (06:30 UTC).
    assert cron.go_date(2024, 3, 10, 2, 30, 0, zone).isoformat() == "2024-03-10T06:30:00+00:00"
    # 01:30 exists twice on 3 November 2024: Go picks the first (EDT).
    assert cron.go_date(2024, 11, 3, 1, 30, 0, zone).isoformat() == "2024-11-03T05:30:00+00:00"
    # Overflowing fields normalize.
    assert cron.go_date(2024, 13, 32, 0, 0, 0, cron.UTC).isoformat() == "2025-02-01T00:00:00+00:00"


@pytest.mark.parametrize("name", ["Local", "", "UTC"])
def test_zones_that_are_utc(name: str) -> None:
    assert cron.load_zone(name) is cron.UTC


def test_an_unknown_zone_is_refused_with_gos_words() -> None:
    with pytest.raises(cron.CronError, match=r"^unknown time zone Nowhere/Land$"):
        cron.load_zone("Nowhere/Land")
