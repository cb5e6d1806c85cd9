"""Event contracts: the envelope, one module per producing service, and the topic registry."""

from contracts import common, provisioning, rating, usage  # noqa: F401  (registers the models)
from contracts.envelope import Contract, Envelope, wrap
from contracts.registry import parse

__all__ = ["Contract", "Envelope", "parse", "wrap"]
