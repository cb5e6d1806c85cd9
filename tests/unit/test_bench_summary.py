"""`billing bench billing-run --runs N`: the summary line of several runs (their medians); the
benches' `--runs` at least 1."""

import argparse

import pytest

from cli import bench, bench_billing_run


def _run(rate: int, seconds: float, cpu: int, reference: float) -> dict:
    return {"bench": "billing-run", "accounts": 100_000, "replicas": {"rating": 1, "invoicing": 2},
            "seed": "sql", "invoices_per_second": rate, "seconds": seconds,
            "cpu_us_per_invoice_all": cpu, "host_reference_ms": reference}


def test_a_summary_gives_each_figures_median_lowest_and_highest():
    runs = [_run(4_800, 20.83, 390, 95.0), _run(5_100, 19.61, 371, 89.5), _run(4_400, 22.73, 420, 120.2)]
    summary = bench_billing_run.summary(runs)
    assert summary["summary"] is True and summary["runs"] == 3 and summary["accounts"] == 100_000
    assert summary["invoices_per_second"] == {"median": 4_800, "min": 4_400, "max": 5_100,
                                              "each": [4_800, 5_100, 4_400]}
    assert summary["seconds"] == {"median": 20.83, "min": 19.61, "max": 22.73}
    assert summary["cpu_us_per_invoice_all"]["median"] == 390
    assert summary["host_reference_ms"]["each"] == [95.0, 89.5, 120.2]


def test_an_even_number_of_runs_takes_the_middle_twos_mean():
    summary = bench_billing_run.summary([_run(4_000, 25.0, 400, 100.0), _run(5_000, 20.0, 380, 90.0)])
    assert summary["invoices_per_second"]["median"] == 4_500


@pytest.mark.parametrize("add_arguments", [bench_billing_run.arguments, bench._rating_arguments])
@pytest.mark.parametrize("runs", ["0", "-3", "two"])
def test_fewer_than_one_run_is_refused(add_arguments, runs, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["--runs", runs])
    assert refused.value.code == 2 and "--runs" in capsys.readouterr().err
    assert parser.parse_args(["--runs", "3"]).runs == 3
