"""The kit's calendar under its old path in the pricing core (shared/calendar.py is the one module)."""

from shared.calendar import (  # noqa: F401  (re-exported)
    Month, add_months, as_month, day_of, days_in_month, first_metering_day_at_or_after, local_midnight, metering_point,
    metering_point_utc, month_info, month_of, month_pieces, next_month, previous_month, zone,
)
