"""What a benchmark's service processes used, from Linux's /proc: CPU time and peak memory (RSS)."""

from __future__ import annotations

import os
import statistics
import time

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used (0 where /proc is missing)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def cpu_by_service(processes) -> dict[str, float]:
    """CPU seconds used so far by a bench's service processes, summed per service name (replicas together)."""
    out: dict[str, float] = {}
    for proc in processes:
        out[proc.name] = out.get(proc.name, 0.0) + cpu_seconds(proc.proc.pid)
    return out


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB (0 where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return 0.0


def infra_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this machine's PostgreSQL and Kafka processes (a local
    deploy/local/infra.sh: their processes are visible here), by name. The postmaster's reaped
    children (backends of closed connections, autovacuum workers) count through its cutime and
    cstime. Empty figures (0) where they run elsewhere."""
    out = {"postgres": 0.0, "kafka": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        if b"postgres" in cmd:
            if b"postgres\0-D" in cmd:  # the postmaster
                ticks += int(fields[13]) + int(fields[14])
            out["postgres"] += ticks / _TICKS
        elif b"kafka.Kafka" in cmd:
            out["kafka"] += ticks / _TICKS
    return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat's first line."""
    try:
        values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle, iowait
    return sum(values) - idle, sum(values)


def host_reference_ms(repeats: int = 7) -> float:
    """How fast this host runs Python now: the median of `repeats` timings (ms) of a fixed loop of
    dict and object work, the services' kind of work, run in this process. On a shared machine
    the same code's figures move with its neighbours; a bench prints this beside its own so two
    runs can be told apart (this machine when quiet: about 89 ms on Debian's interpreter)."""
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        _reference_loop()
        timings.append(time.perf_counter() - began)
    return round(statistics.median(timings) * 1000, 1)


class _Pair:
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int) -> None:
        self.a, self.b = a, b


def _reference_loop() -> int:
    # the loop earlier figures in the README were read against: keep it as it is
    table = {}
    for i in range(200_000):
        table[str(i)] = (i * 3) % 7
    total = 0
    for k, v in table.items():
        if v > 2:
            total += len(k)
    return total + sum(_Pair(i, i + 1).b for i in range(200_000))
