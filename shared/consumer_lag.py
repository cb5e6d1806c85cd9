"""Consumer lag per partition for /metrics, sampled from each subscriber's aiokafka consumer."""

from __future__ import annotations

import asyncio
import logging
import os

from shared import metrics

log = logging.getLogger(__name__)

INTERVAL_S = float(os.environ.get("BILLING_LAG_SAMPLE_S", "5"))


async def sample(subscriptions) -> None:
    """Set billing_consumer_lag{topic, partition} = highwater - position for every partition this
    process holds now (position: the next offset it will fetch, so records fetched but not yet
    handled count as consumed), and drop the series of partitions it no longer holds."""
    held: set[tuple[str, str]] = set()
    for subscription in subscriptions:
        consumer = subscription.kafka_consumer
        if consumer is None:
            continue
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:  # nothing fetched yet from this partition
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), 1.0)
            except Exception:  # rebalancing or not yet positioned: next time
                continue
            labels = (subscription.topic.name, str(tp.partition))
            held.add(labels)
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, highwater - position))
    for labels in _sampled - held:
        metrics.CONSUMER_LAG.remove(*labels)
    _sampled.clear()
    _sampled.update(held)


_sampled: set[tuple[str, str]] = set()


async def run(subscriptions, interval: float = INTERVAL_S) -> None:
    """Sample every `interval` seconds until cancelled."""
    while True:
        try:
            await sample(subscriptions)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sampling consumer lag failed")
        await asyncio.sleep(interval)
