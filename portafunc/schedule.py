"""One neutral schedule expression, and the evaluator that proves each target's translation of it.

Neutral forms: ``rate(N minutes|hours|days)`` and 5-field cron (``minute hour day-of-month month day-of-week``,
UTC). Rates are aligned to the clock (``rate(15 minutes)`` fires at :00, :15, :30, :45): cron dialects can only
express aligned schedules, and a platform's own rate counter would start when the rule is created. Anything a cron
dialect cannot express exactly is refused when the decorator runs, with the reason, so a schedule never fires at
different instants on different targets.

Each target writes the canonical cron in its own dialect (``Target.schedule_dialect()`` → :class:`CronDialect`, whose
``render`` is the target's code). ``next_fire_times`` evaluates the neutral form *and* a dialect string independently,
reading the string back by the dialect's declared layout (seconds field, year field, wrapper, day-of-week numbering)
rather than by the translation; the tests use it to prove every installed target's translation fires at the same
instants.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import ScheduleError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")


class Schedule:
    """A validated schedule. ``cron`` is the canonical 5-field form every translation starts from."""

    __slots__ = ("expression", "cron")

    def __init__(self, expression: str, cron: str) -> None:
        self.expression = expression
        self.cron = cron

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and (self.expression, self.cron) == (other.expression, other.cron)

    def __hash__(self) -> int:
        return hash((self.expression, self.cron))

    def __repr__(self) -> str:
        return f"Schedule({self.expression!r}, cron={self.cron!r})"

    def written(self, dialect: CronDialect) -> str:
        """This schedule in ``dialect`` (a target's ``schedule_dialect()``)."""
        return dialect.render(self.cron)


class CronDialect:
    """How a target writes a schedule: ``render`` turns the canonical 5-field cron into the target's string; the
    layout says how to read such a string back (for :func:`next_fire_times`), independently of ``render``.

    ``seconds``: a leading seconds field; ``year``: a trailing year field; ``wrapper``: a regular expression whose
    one group holds the fields (e.g. ``r"cron[(](.*)[)]"``); ``sunday``: the number of Sunday in the day-of-week
    field (0 or 1; day names are always accepted). ``?`` reads as ``*``.
    """

    __slots__ = ("name", "render", "seconds", "year", "wrapper", "sunday")

    def __init__(self, name: str, render: Callable[[str], str], *, seconds: bool = False, year: bool = False,
                 wrapper: str | None = None, sunday: int = 0) -> None:
        if sunday not in (0, 1):
            raise ValueError("sunday is 0 or 1")
        self.name, self.render = name, render
        self.seconds, self.year, self.wrapper, self.sunday = seconds, year, wrapper, sunday

    def __repr__(self) -> str:
        return f"CronDialect({self.name!r})"


def _unchanged(cron: str) -> str:
    return cron


UNIX_CRON = CronDialect("unix-cron", _unchanged)
"""The neutral 5-field cron itself (minute hour day-of-month month day-of-week, Sunday 0)."""


def parse_schedule(expression: str) -> Schedule:
    """Validate a neutral expression; raise :class:`ScheduleError` saying why it is refused."""
    if not isinstance(expression, str) or not expression.strip():
        raise ScheduleError("schedule expression is empty; use rate(N minutes) or a 5-field cron")
    expr = " ".join(expression.split())
    match = _RATE.match(expr)
    if match:
        return Schedule(expr, _rate_to_cron(int(match.group(1)), match.group(2)))
    if expr.startswith(("rate(", "cron(")):
        raise ScheduleError(f"{expression!r}: write rate(N minutes|hours|days) or a bare 5-field cron "
                            "such as '0 3 * * *'")
    fields = expr.split(" ")
    if len(fields) != 5:
        raise ScheduleError(f"{expression!r} has {len(fields)} fields; cron needs 5 "
                            "(minute hour day-of-month month day-of-week)")
    minute, hour, dom, month, dow = fields
    canonical = [
        _canonical_field(minute, 0, 59, {}, "minute"),
        _canonical_field(hour, 0, 23, {}, "hour"),
        _canonical_field(dom, 1, 31, {}, "day-of-month"),
        _canonical_field(month, 1, 12, _MONTHS, "month"),
        _canonical_field(dow, 0, 7, _DAYS, "day-of-week"),
    ]
    if canonical[2] != "*" and canonical[4] != "*":
        raise ScheduleError(f"{expression!r} restricts both day-of-month and day-of-week; dialects that write one "
                            "of them as '?' cannot express that and cron dialects disagree on its meaning: restrict "
                            "only one of them")
    return Schedule(expr, " ".join(canonical))


def _rate_to_cron(n: int, unit: str) -> str:
    unit = unit.rstrip("s")
    if n < 1:
        raise ScheduleError(f"rate({n} {unit}s): the rate must be at least 1")
    if unit == "minute":
        if n == 1:
            return "* * * * *"
        if 60 % n or n == 60:
            raise ScheduleError(f"rate({n} minutes) cannot fire at the same instants on every target: "
                                "cron resets every hour, so N must divide 60 (use hours for 60)")
        return f"*/{n} * * * *"
    if unit == "hour":
        if n == 1:
            return "0 * * * *"
        if 24 % n or n == 24:
            raise ScheduleError(f"rate({n} hours) cannot fire at the same instants on every target: "
                                "cron resets every day, so N must divide 24 (use rate(1 day) for 24)")
        return f"0 */{n} * * *"
    if n != 1:
        raise ScheduleError(f"rate({n} days) cannot fire at the same instants on every target: cron resets every "
                            "month; use a cron such as '0 0 */2 * *' if that is what you mean")
    return "0 0 * * *"


def _canonical_field(text: str, lo: int, hi: int, names: dict[str, int], what: str) -> str:
    """Check one cron field and return it with names replaced by numbers (and Sunday 7 as 0)."""
    if text == "*":
        return "*"
    out = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise ScheduleError(f"{what} field {text!r}: step {step!r} must be a positive number")
        if base == "*":
            values = "*"
        else:
            start_s, dash, end_s = base.partition("-")
            start = _field_value(start_s, lo, hi, names, what, text)
            if dash:
                end = _field_value(end_s, lo, hi, names, what, text)
                if end < start:
                    raise ScheduleError(f"{what} field {text!r}: range {base} runs backwards")
                values = f"{start}-{end}"
            else:
                if step:
                    raise ScheduleError(f"{what} field {text!r}: a step needs '*' or a range before it")
                values = str(start)
        if what == "day-of-week":
            values = "0" if values == "7" else values
            if values.endswith("-7"):
                raise ScheduleError(f"{what} field {text!r}: write Sunday as 0 (SUN) inside ranges")
        out.append(values + (f"/{step}" if step else ""))
    return ",".join(out)


def _field_value(token: str, lo: int, hi: int, names: dict[str, int], what: str, text: str) -> int:
    token_u = token.upper()
    if token_u in names:
        return names[token_u]
    if not token.isdigit():
        raise ScheduleError(f"{what} field {text!r}: {token!r} is not a number"
                            + (f" or a name ({', '.join(names)})" if names else ""))
    value = int(token)
    if not lo <= value <= hi:
        raise ScheduleError(f"{what} field {text!r}: {value} is outside {lo}-{hi}")
    return value


# --- evaluation: the neutral cron and each dialect string, parsed independently -------------------------------------

def _expand(text: str, lo: int, hi: int, names: dict[str, int], day_offset: int = 0) -> set[int] | None:
    """Values a field allows (``None`` for unrestricted ``*``/``?``); ``day_offset`` maps days numbered 1-7 to 0-6."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if base in ("*", "?"):
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-")
            start, end = _val(a, names) - day_offset, _val(b, names) - day_offset
        else:
            start = _val(base, names) - day_offset
            end = hi if step_s else start
        values.update(range(start, end + 1, step))
    return {7 % 7 if v == 7 and hi == 6 else v for v in values}


def _val(token: str, names: dict[str, int]) -> int:
    return names[token.upper()] if token.upper() in names else int(token)


class _Matcher:
    """The allowed values of each field (``None`` = any); ``dows`` counts from 0 = Sunday."""

    def __init__(self, seconds: set[int] | None, minutes: set[int] | None, hours: set[int] | None,
                 doms: set[int] | None, months: set[int] | None, dows: set[int] | None) -> None:
        self.seconds, self.minutes, self.hours = seconds, minutes, hours
        self.doms, self.months, self.dows = doms, months, dows

    def matches(self, t: datetime) -> bool:
        dow = (t.weekday() + 1) % 7
        return all(s is None or v in s for s, v in (
            (self.seconds, t.second), (self.minutes, t.minute), (self.hours, t.hour), (self.doms, t.day),
            (self.months, t.month), (self.dows, dow)))


def _matcher(expression: str, dialect: CronDialect | None) -> _Matcher:
    """``dialect`` None: ``expression`` is neutral (parsed and canonicalised); else read by the dialect's layout."""
    if dialect is None:
        text = parse_schedule(expression).cron
        layout = UNIX_CRON
    else:
        text, layout = expression, dialect
    if layout.wrapper is not None:
        inner = re.fullmatch(layout.wrapper, text)
        if not inner:
            raise ScheduleError(f"{expression!r} is not a {layout.name} expression")
        text = inner.group(1)
    fields = text.split()
    expected = 5 + layout.seconds + layout.year
    if len(fields) != expected:
        raise ScheduleError(f"{expression!r} has {len(fields)} fields; {layout.name} has {expected}")
    seconds = _expand(fields.pop(0), 0, 59, {}) if layout.seconds else {0}
    m, h, dom, mon, dow = fields[:5]
    days = {name: i + layout.sunday for name, i in _DAYS.items()}
    return _Matcher(seconds, _expand(m, 0, 59, {}), _expand(h, 0, 23, {}), _expand(dom, 1, 31, {}),
                    _expand(mon, 1, 12, _MONTHS), _expand(dow, 0, 6, days, day_offset=layout.sunday))


def next_fire_times(expression: str, dialect: CronDialect | None, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` instants strictly after ``start`` at which ``expression`` fires: a neutral expression
    when ``dialect`` is None, else a string written in ``dialect``."""
    m = _matcher(expression, dialect)
    t = start.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    out: list[datetime] = []
    limit = t + timedelta(days=366 * 5)
    while len(out) < count and t < limit:
        # Skip whole months, days and hours that cannot match: the scan stays fast for rare schedules.
        if m.months is not None and t.month not in m.months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            continue
        dow = (t.weekday() + 1) % 7
        if (m.doms is not None and t.day not in m.doms) or (m.dows is not None and dow not in m.dows):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if m.hours is not None and t.hour not in m.hours:
            t = t.replace(minute=0) + timedelta(hours=1)
            continue
        if m.matches(t):
            out.append(t)
        t += timedelta(minutes=1)
    return out
