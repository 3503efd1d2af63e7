# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `cron_to_oncalendar`: the minute, hour and weekday fields of a cron line as a systemd
OnCalendar expression with the same cadence (the role `backup`'s timers). Documented in
cron_to_oncalendar.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

# field: (lowest, highest) as cron takes it; weekday 7 is Sunday again
FIELDS = {"minute": (0, 59), "hour": (0, 23), "weekday": (0, 7)}
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# systemd's week starts on Monday: Mon=1 .. Sun=7 keeps ranges such as Mon..Sun contiguous
SYSTEMD_DAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def cron_field_values(field: str, text) -> set[int]:
    """The values a cron field matches ('*', '5', '1-6', '*/15', '0-30/10', lists, day names)."""
    low, high = FIELDS[field]
    spec = str(text).strip().lower()
    if not spec:
        raise AnsibleFilterError(f"cron_to_oncalendar: {field} is empty")
    values: set[int] = set()
    for item in spec.split(","):
        values |= _cron_item(field, item, low, high, spec)
    if field == "weekday" and 7 in values:
        values = (values - {7}) | {0}
    return values


def _cron_item(field: str, item: str, low: int, high: int, spec: str) -> set[int]:
    base, has_step, step_text = item.partition("/")
    step = 1
    if has_step:
        if not step_text.isdigit() or int(step_text) < 1:
            raise AnsibleFilterError(f"cron_to_oncalendar: {field} {spec!r}: bad step in {item!r}")
        step = int(step_text)
    if base == "*":
        first, last = low, high
    elif "-" in base:
        start, _sep, end = base.partition("-")
        first, last = _cron_number(field, start, spec), _cron_number(field, end, spec)
        if first > last:
            raise AnsibleFilterError(f"cron_to_oncalendar: {field} {spec!r}: range {item!r} runs backwards")
    else:
        first = last = _cron_number(field, base, spec)
        if has_step:
            raise AnsibleFilterError(f"cron_to_oncalendar: {field} {spec!r}: a step needs * or a range, "
                                     f"not {item!r}")
    if not low <= first <= last <= high:
        raise AnsibleFilterError(f"cron_to_oncalendar: {field} {spec!r}: {item!r} is outside {low}-{high}")
    return set(range(first, last + 1, step))


def _cron_number(field: str, text: str, spec: str) -> int:
    if field == "weekday" and text in DAY_NAMES:
        return DAY_NAMES.index(text)
    if not text.isdigit():
        raise AnsibleFilterError(f"cron_to_oncalendar: {field} {spec!r}: {text!r} is not a number"
                                 + (" or a day name (sun..sat)" if field == "weekday" else ""))
    return int(text)


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Sorted values -> runs of consecutive values as (first, last)."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _time_component(field: str, values: set[int]) -> str:
    low, high = FIELDS[field]
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    if len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(ordered[0], high + 1, step)):
            return f"{ordered[0]:02d}/{step}"  # systemd: the value and every multiple of the step after it
    parts = []
    for first, last in _runs(ordered):
        if last - first >= 2:
            parts.append(f"{first:02d}..{last:02d}")
        else:
            parts += [f"{v:02d}" for v in range(first, last + 1)]
    return ",".join(parts)


def _weekdays(values: set[int]) -> str:
    if values >= set(range(7)):
        return ""
    ordered = sorted(7 if v == 0 else v for v in values)
    parts = []
    for first, last in _runs(ordered):
        if last - first >= 2:
            parts.append(f"{SYSTEMD_DAYS[first]}..{SYSTEMD_DAYS[last]}")
        else:
            parts += [SYSTEMD_DAYS[v] for v in range(first, last + 1)]
    return ",".join(parts)


def cron_to_oncalendar(schedule) -> str:
    """{minute, hour, weekday} (cron fields, '*' when missing) -> a systemd OnCalendar expression,
    e.g. {minute: '0', hour: '1', weekday: '1-6'} -> 'Mon..Sat *-*-* 01:00:00'."""
    if not isinstance(schedule, dict):
        raise AnsibleFilterError(f"cron_to_oncalendar: expects a dict of minute, hour and weekday, got {schedule!r}")
    unknown = sorted(set(schedule) - set(FIELDS))
    if unknown:
        raise AnsibleFilterError(f"cron_to_oncalendar: only minute, hour and weekday are supported, not "
                                 f"{', '.join(map(str, unknown))}")
    minute = _time_component("minute", cron_field_values("minute", schedule.get("minute", "*")))
    hour = _time_component("hour", cron_field_values("hour", schedule.get("hour", "*")))
    days = _weekdays(cron_field_values("weekday", schedule.get("weekday", "*")))
    return (f"{days} " if days else "") + f"*-*-* {hour}:{minute}:00"


class FilterModule:
    """pgdock.postgres filters."""

    def filters(self):
        return {"cron_to_oncalendar": cron_to_oncalendar}
