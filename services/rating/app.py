"""Rating service: wiring only."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from contracts.topics import PROVISIONING_EVENTS, RATING_CHARGES, RATING_REQUESTS, USAGE_RECORDS, USER_COUNTS
from services.rating import api, handlers, pending, prepaid, service, wire
from shared.clock import Clock
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings


HTTP_PORT = 8003


def build(settings: Settings | None = None, clock: Clock | None = None) -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime(settings or Settings.from_env("rating", HTTP_PORT), Path(__file__).parent / "migrations",
                             clock)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events)
    runtime.subscribe_batch(USER_COUNTS, handlers.on_user_counts)
    # the usage path is rating's busiest: records decoded in one validating pass, in batches of
    # up to 2,000, and no inbox row per record (a record id is stored once by its primary key;
    # the handler claims only the records it holds)
    runtime.subscribe_batch(USAGE_RECORDS, handlers.on_usage, max_records=2000, decode=wire.decode_usage,
                            inbox=False)
    runtime.subscribe(RATING_REQUESTS, handlers.on_run_request)
    tuning = runtime.settings.tuning
    # BILLING_RUN_WORKERS workers (one rates while another waits on the database) rate pending
    # runs chunk by chunk, woken by new requests and by each other's plans and summaries (NOTIFY
    # <schema>_runs), polling once a second as a fallback
    # rating.charges' partitions: a run's charges and the midnights' usage debits go out in one
    # event per partition their accounts' keys fall on
    async def charges_partitions() -> list[int]:
        return sorted(await runtime.producer.partitions_for(runtime.topic(RATING_CHARGES)))

    runtime.workers("rating a run chunk", partial(service.rate_next_chunk, chunk=tuning.run_chunk,
                                                  partitions=charges_partitions),
                    tuning.run_workers, 1.0, busy=lambda rated: rated >= 0, channel="runs")
    # apply held facts whose account or product arrived meanwhile, reject those held too long
    runtime.periodic("sweeping pending facts", pending.sweep, tuning.pending_sweep_s)
    # at each prepaid account's local midnight, its usage debit (one item per account and midnight)

    runtime.workers("prepaid usage debits", partial(prepaid.debit_due_midnights, chunk=tuning.run_chunk,
                                                    partitions=charges_partitions),
                    tuning.run_workers,
                    tuning.prepaid_midnights_s, busy=lambda done: done >= 0, channel="prepaid")
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
