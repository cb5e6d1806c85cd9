"""A failing end-to-end test reports its services' warnings: CI keeps no logs."""

from __future__ import annotations

import json

from cli.processes import ServiceProcess


def _line(level: str, message: str) -> str:
    return json.dumps({"time": "2026-11-30T00:29:19.453+00:00", "level": level, "service": "rating",
                       "message": message}) + "\n"


def test_problems_are_the_last_warnings_and_errors_of_this_start(tmp_path):
    proc = ServiceProcess("rating", {}, tmp_path)
    proc.log_path.write_text(_line("ERROR", "from an earlier start"))
    proc._mark = proc.log_path.stat().st_size  # what start() records
    with proc.log_path.open("a") as log:
        log.write(_line("INFO", "rating started"))
        log.write(_line("WARNING", "Heartbeat failed for group g because it is rebalancing"))
        for n in range(7):
            log.write(_line("WARNING", f"attempt {n} failed: ConnectionResetError() " + "x" * 400))
        log.write("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: not json\n")
        log.write("[1, 2]\n")
    found = proc.problems(limit=4)
    assert len(found) == 4
    assert found[0].startswith("00:29:19.453 WARNING attempt 5 failed")
    assert len(found[0]) == len("00:29:19.453 WARNING ") + 300  # long messages are cut
    assert found[2:] == ["Traceback (most recent call last):", "ValueError: not json"]
    assert not any("earlier start" in line or "Heartbeat" in line for line in proc.problems(limit=100))


def test_no_log_yet_means_no_problems(tmp_path):
    proc = ServiceProcess("rating", {}, tmp_path)
    proc.log_path.write_text("")
    proc._mark = 0
    assert proc.problems() == []
