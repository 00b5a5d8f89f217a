"""EventBridge schedule expressions on the virtual clock: `rate(...)` and the six-field AWS
`cron(minutes hours day-of-month month day-of-week year)`, all in UTC. moto stores scheduled
rules but never fires them; the local runtime asks this module when each one is next due."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # AWS: 1 = Sunday


class ScheduleError(ValueError):
    pass


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int] | None:
    """One cron field -> the allowed values (None means any: `*` or `?`)."""
    if text in ("*", "?"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            a, b = (_value(x, names) for x in part.split("-", 1))
        else:
            a = _value(part, names)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi):
            raise ScheduleError(f"cron value out of range in '{text}'")
        out.update(range(a, b + 1, step))
    return out


def _value(x: str, names: dict[str, int] | None) -> int:
    if names and x.upper() in names:
        return names[x.upper()]
    if not x.isdigit():
        raise ScheduleError(f"unsupported cron token '{x}' (L, W and # are not supported locally)")
    return int(x)


class Schedule:
    def __init__(self, expression: str):
        self.expression = expression.strip()
        m = _RATE.match(self.expression)
        if m:
            n, unit = int(m.group(1)), m.group(2).rstrip("s")
            self.period: timedelta | None = timedelta(seconds=n * _UNITS[unit])
            self.cron = None
            return
        m = _CRON.match(self.expression)
        if not m:
            raise ScheduleError(f"unsupported schedule expression '{expression}'")
        parts = m.group(1).split()
        if len(parts) != 6:
            raise ScheduleError(f"cron needs 6 fields, got {len(parts)}: '{expression}'")
        self.period = None
        self.cron = (_field(parts[0], 0, 59), _field(parts[1], 0, 23), _field(parts[2], 1, 31),
                     _field(parts[3], 1, 12, _MONTHS), _field(parts[4], 1, 7, _DAYS), _field(parts[5], 1970, 2199))

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime:
        """The first fire time strictly after `after` (rates count from `anchor`, the rule's creation)."""
        after = after.astimezone(UTC)
        if self.period is not None:
            anchor = (anchor or after).astimezone(UTC)
            n = int((after - anchor) / self.period) + 1
            return anchor + n * self.period
        assert self.cron is not None  # a schedule is a rate or a cron
        minutes, hours, dom, month, dow, year = self.cron
        t = (after + timedelta(minutes=1)).replace(second=0, microsecond=0)
        limit = after + timedelta(days=366 * 5)
        while t <= limit:
            if (year and t.year not in year) or (month and t.month not in month):
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            aws_dow = (t.isoweekday() % 7) + 1  # Sunday=1 ... Saturday=7
            if (dom and t.day not in dom) or (dow and aws_dow not in dow):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if hours and t.hour not in hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if minutes and t.minute not in minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise ScheduleError(f"'{self.expression}' never fires in the next five years")
