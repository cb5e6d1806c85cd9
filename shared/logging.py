"""Logging set-up: one JSON object per line on stderr, with the service and the event, correlation
id and account being handled (context variables the kit's consumer and HTTP middleware set)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timezone

import orjson

from shared import tracing

# What the current task is working on; None outside a handler or a request.
EVENT_ID: ContextVar[str | None] = ContextVar("event_id", default=None)
CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)
ACCOUNT: ContextVar[str | None] = ContextVar("account", default=None)


_NOTHING = contextlib.nullcontext()


def bound(event_id: object = None, correlation_id: object = None,
          account: str | None = None) -> contextlib.AbstractContextManager:
    """Log lines written inside carry these ids (each given one replaces the current value)."""
    if event_id is None and correlation_id is None and account is None:
        return _NOTHING
    return _bound(event_id, correlation_id, account)


@contextlib.contextmanager
def _bound(event_id: object, correlation_id: object, account: str | None) -> Iterator[None]:
    tokens = [(var, var.set(str(value)))
              for var, value in ((EVENT_ID, event_id), (CORRELATION_ID, correlation_id), (ACCOUNT, account))
              if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, service, logger, message, the context ids
    (null when unset), trace ids when tracing is on, and the traceback of an exception."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "event_id": EVENT_ID.get(),
            "correlation_id": CORRELATION_ID.get(),
            "account": ACCOUNT.get(),
        }
        ids = tracing.current_ids()
        if ids:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(service: str) -> logging.Logger:
    """JSON lines by default; BILLING_LOG_FORMAT=text gives the old one-line text for a terminal."""
    level = os.environ.get("BILLING_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()
    if os.environ.get("BILLING_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    logging.basicConfig(level=level, handlers=[handler])
    # FastStream's module logger has a text handler of its own: its lines go through ours too
    faststream = logging.getLogger("faststream")
    faststream.handlers.clear()
    faststream.propagate = True
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return logging.getLogger(service)
