"""When an end-of-month termination with a minimum term takes effect."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from shared.calendar import add_months, first_metering_day_at_or_after


def termination_effective(
    start: datetime | None, requested: datetime, minimum_term_months: int, tz: ZoneInfo
) -> date:
    """The local date an end_of_month termination takes effect (the item is billed through the
    day before it).

    It is the first metering point (1st, 00:00 local) at or after the later of the request
    instant and the local start date + `minimum_term_months` calendar months (clamped to the
    month's end, taken at 00:00). An item that never started billing (`start` None) ends at once:
    the request's local date. Example: ready 2026-03-15, requested 2026-06-10, 12 months ->
    2027-04-01.
    """
    local_request = requested.astimezone(tz)
    if start is None:
        return local_request.date()
    term_end = add_months(start.astimezone(tz).date(), minimum_term_months)
    request_day = local_request.date()
    if term_end > request_day:  # the minimum term ends after the request: its 00:00 is the later
        return first_metering_day_at_or_after(term_end, True)
    return first_metering_day_at_or_after(request_day, local_request.time() == time(0))
