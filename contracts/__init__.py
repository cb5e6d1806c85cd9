"""Event contracts: the envelope, one module per producing service, and the topic registry."""

from contracts import common, platform, provisioning, rating, usage  # noqa: F401  (registers the models)
from contracts import invoicing  # noqa: F401,E402  (registers the invoicing events)
from contracts import disputes  # noqa: F401,E402  (registers the disputes events)
from contracts import prepaid_credit  # noqa: F401,E402  (registers the prepaid_credit notices)
from contracts.envelope import Contract, Envelope, build_envelope, wrap
from contracts.registry import parse

__all__ = ["Contract", "Envelope", "build_envelope", "parse", "wrap"]
