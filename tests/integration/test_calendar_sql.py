"""The SQL that applies the kit's calendar set-based agrees with it: rating's due-accounts test
(`make_timestamptz(year, month, 1, 0, 0, 0, zone)`) gives `shared.calendar.metering_point`,
even on the 1sts whose midnight falls in a DST gap."""

from __future__ import annotations

import zoneinfo
from datetime import timezone

import pytest

from shared.calendar import metering_point, metering_point_utc

pytestmark = pytest.mark.infra


def _midnight_gaps() -> list[tuple[int, int, str]]:
    """Every (year, month, zone) of 2000-2030 whose 1st has no local 00:00 (32 in tzdata 2026)."""
    found = []
    for name in sorted(zoneinfo.available_timezones()):
        for year in range(2000, 2031):
            for month in range(1, 13):
                point = metering_point((year, month), name)
                back = point.astimezone(timezone.utc).astimezone(point.tzinfo)
                if back.replace(tzinfo=None) != point.replace(tzinfo=None):
                    found.append((year, month, name))
    return found


async def test_sql_metering_points_equal_the_kits_even_in_dst_gaps(db):
    cases = _midnight_gaps() + [(2026, 3, "Europe/Berlin"), (2026, 11, "America/New_York"), (2028, 2, "UTC")]
    assert len(cases) > 3
    rows = await db.fetch("SELECT make_timestamptz(y, m, 1, 0, 0, 0, z) AS point FROM unnest($1::int[], $2::int[], "
                          "$3::text[]) WITH ORDINALITY AS c(y, m, z, n) ORDER BY n",
                          [c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases])
    # compared as UTC instants: aware datetimes in a gap never compare equal across zones (PEP 495)
    assert [r["point"].timestamp() for r in rows] == [metering_point_utc(c[:2], c[2]).timestamp() for c in cases]
