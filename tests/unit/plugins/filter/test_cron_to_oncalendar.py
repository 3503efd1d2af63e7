"""Unit tests of the filter cron_to_oncalendar (the role backup's systemd timers): the role's default
schedule, other cron forms, bad input, and, where systemd-analyze is installed, the next firing times
systemd computes against those of the cron fields."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.pgdock.postgres.plugins.filter.cron_to_oncalendar import (
    FilterModule,
    cron_field_values,
    cron_to_oncalendar,
)

ROLE_DEFAULTS = Path(__file__).resolve().parents[4] / "roles" / "backup" / "defaults" / "main.yml"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

OTHER_SCHEDULES = [
    ({"minute": "*/15", "hour": "*", "weekday": "*"}, "*-*-* *:00/15:00"),
    ({"minute": "0-30/10", "hour": "9-17", "weekday": "mon-fri"}, "Mon..Fri *-*-* 09..17:00,10,20,30:00"),
    ({"minute": 5, "hour": "1,13", "weekday": "0,6"}, "Sat,Sun *-*-* 01,13:05:00"),
    ({"minute": "0", "hour": "0", "weekday": "5-7"}, "Fri..Sun *-*-* 00:00:00"),
    ({"minute": "45", "hour": "*/6", "weekday": "7"}, "Sun *-*-* 00/6:45:00"),
    ({"minute": "0", "hour": "2,3,4,22", "weekday": "0-6"}, "*-*-* 02..04,22:00:00"),
    ({"minute": "59", "hour": "23"}, "*-*-* 23:59:00"),
]


def role_schedule() -> dict:
    return yaml.safe_load(ROLE_DEFAULTS.read_text())["pgdock_backup_schedule"]


def test_default_schedule_of_the_role():
    schedule = role_schedule()
    assert {job: cron_to_oncalendar(times) for job, times in schedule.items()} == {
        "full": "Sun *-*-* 01:00:00",
        "incremental": "Mon..Sat *-*-* 01:00:00",
        "logical": "*-*-* 02:30:00",
        "prune": "*-*-* 04:00:00",
        "verify": "Sun *-*-* 06:00:00",
    }


@pytest.mark.parametrize(("schedule", "expected"), OTHER_SCHEDULES)
def test_other_cron_forms(schedule, expected):
    assert cron_to_oncalendar(schedule) == expected


def test_filter_is_registered():
    assert FilterModule().filters()["cron_to_oncalendar"] is cron_to_oncalendar


def test_cron_fields():
    assert cron_field_values("weekday", "7") == {0}
    assert cron_field_values("weekday", "sun,SAT") == {0, 6}
    assert cron_field_values("minute", "*/20") == {0, 20, 40}
    assert cron_field_values("hour", "1-5/2,23") == {1, 3, 5, 23}


@pytest.mark.parametrize(("schedule", "complaint"), [
    ({"minute": "60", "hour": "1", "weekday": "*"}, "outside 0-59"),
    ({"minute": "0", "hour": "24", "weekday": "*"}, "outside 0-23"),
    ({"minute": "0", "hour": "1", "weekday": "8"}, "outside 0-7"),
    ({"minute": "0", "hour": "6-1", "weekday": "*"}, "runs backwards"),
    ({"minute": "*/0", "hour": "1", "weekday": "*"}, "bad step"),
    ({"minute": "5/10", "hour": "1", "weekday": "*"}, "a step needs * or a range"),
    ({"minute": "x", "hour": "1", "weekday": "*"}, "is not a number"),
    ({"minute": "0", "hour": "1", "weekday": "monday"}, "or a day name"),
    ({"minute": "", "hour": "1", "weekday": "*"}, "minute is empty"),
    ({"minute": "0", "hour": "1", "day": "1"}, "only minute, hour and weekday"),
    ("0 1 * * 0", "expects a dict"),
])
def test_bad_schedules_are_refused_clearly(schedule, complaint):
    with pytest.raises(AnsibleFilterError, match=re.escape(complaint)):
        cron_to_oncalendar(schedule)


def cron_times(schedule: dict, after: datetime, count: int) -> list[datetime]:
    """The next `count` minutes after `after` that cron would run `schedule` at (brute force)."""
    minutes = cron_field_values("minute", schedule.get("minute", "*"))
    hours = cron_field_values("hour", schedule.get("hour", "*"))
    days = cron_field_values("weekday", schedule.get("weekday", "*"))
    found, moment = [], after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while len(found) < count:
        if moment.minute in minutes and moment.hour in hours and (moment.weekday() + 1) % 7 in days:
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


def systemd_times(expression: str, after: datetime, count: int) -> list[datetime]:
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", f"--iterations={count}", f"--base-time={after:%Y-%m-%d %H:%M:%S} UTC",
         expression], capture_output=True, text=True, check=False, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", proc.stdout)
    return [datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s in stamps]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (package systemd): "
                    "the OnCalendar expressions cannot be evaluated by systemd here")
@pytest.mark.parametrize("schedule", list(role_schedule().values()) + [s for s, _e in OTHER_SCHEDULES],
                         ids=list(role_schedule()) + [e for _s, e in OTHER_SCHEDULES])
def test_systemd_fires_when_cron_would(schedule):
    after = datetime(2025, 1, 1, 0, 0, 30)  # a Wednesday
    assert systemd_times(cron_to_oncalendar(schedule), after, 12) == cron_times(schedule, after, 12)
