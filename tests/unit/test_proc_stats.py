"""The benches' /proc readings: this process's CPU and memory, the machine's ticks, infra CPU."""

import os

from cli import proc_stats


def test_own_cpu_and_memory_are_read():
    sum(i * i for i in range(200_000))  # some CPU to see
    assert proc_stats.cpu_seconds(os.getpid()) > 0
    assert proc_stats.peak_rss_mib(os.getpid()) > 1


def test_a_missing_process_reads_as_zero():
    assert proc_stats.cpu_seconds(2**22 + 1) == 0.0
    assert proc_stats.peak_rss_mib(2**22 + 1) == 0.0


def test_machine_ticks_move_forward_and_busy_is_at_most_total():
    busy, total = proc_stats.machine_ticks()
    sum(i * i for i in range(500_000))
    busy2, total2 = proc_stats.machine_ticks()
    assert 0 <= busy <= total and total2 >= total and busy2 >= busy


def test_infra_cpu_names_postgres_and_kafka():
    cpu = proc_stats.infra_cpu_seconds()
    assert set(cpu) == {"postgres", "kafka"}
    assert all(v >= 0 for v in cpu.values())


def test_the_host_reference_is_a_median_in_milliseconds():
    assert 1 < proc_stats.host_reference_ms(repeats=3) < 60_000
