"""The redrive topic: a service hands each redriven dead letter back to the subscription that gave up on it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts.registry import redrive_topic
from shared import dead_letters
from shared.dead_letters import Origin
from shared.kafka import Subscription, _no_decoding, _safe_parser, consumer_name
from shared.settings import Settings

log = logging.getLogger(__name__)


def register_redrive(settings: Settings, broker: KafkaBroker, pool: asyncpg.Pool,
                     subscriptions: Sequence[Subscription]) -> None:
    """The service's redrive topic: each record goes back to the subscription that dead-lettered
    it (named by its `consumer` header), through the same decoding, inbox, retry budget and dead
    letters. Other services never read this topic, so a redrive reaches only this one."""
    by_consumer = {sub.consumer: sub for sub in subscriptions}
    topic = settings.topic(redrive_topic(settings.service))

    async def on_redrive(message: KafkaMessage) -> None:
        record = message.raw_message
        headers = {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())}
        try:
            origin = Origin.from_headers(headers)
        except (KeyError, ValueError) as exc:  # not written by a redrive: keep it for an operator
            origin = Origin(consumer_name(settings.service, redrive_topic(settings.service)),
                            record.topic, record.partition, record.offset)
            await dead_letters.give_up(settings, broker, pool, record, f"bad redrive headers: {exc!r}", origin)
            return
        sub = by_consumer.get(origin.consumer)
        if sub is None:  # the subscription went away after the redrive was accepted
            await dead_letters.give_up(settings, broker, pool, record,
                                       f"redrive: no subscriber for {origin.consumer}", origin)
            return
        log.info("redrive of dead letter %s for %s", origin.redrive_of, origin.consumer)
        await sub._on_record(record, origin)

    # the service's consumer group, like its other subscriptions: one replica takes the partition
    broker.subscriber(topic, decoder=_no_decoding, parser=_safe_parser,
                      group_id=f"{settings.topic_prefix}{settings.service}", auto_offset_reset="earliest",
                      ack_policy=AckPolicy.NACK_ON_ERROR, heartbeat_interval_ms=500,
                      title=f"{settings.service}:redrive")(on_redrive)
