"""Logging set-up: one line per record, with the service name, to stderr."""

from __future__ import annotations

import logging
import os


def configure(service: str) -> logging.Logger:
    level = os.environ.get("BILLING_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
    )
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return logging.getLogger(service)
