"""`contracts.envelope.envelope_of` builds what pydantic's model_construct builds (it sets the
instance's attributes directly on hot paths: a pydantic upgrade that changes them shows here)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from contracts.envelope import Envelope, build_envelope, envelope_of

NOW = datetime(2026, 5, 1, 6, tzinfo=timezone.utc)


def _fields() -> dict:
    return dict(event_id=uuid4(), type="rating.charges.rated", schema_version=1, occurred_at=NOW, producer="rating",
                key="acme", correlation_id=uuid4(), causation_id=None, payload={"lines": [{"amount": "1.00"}]})


def test_it_is_what_model_construct_builds():
    fields = _fields()
    fast, reference = envelope_of(**fields), Envelope.model_construct(**fields)
    assert fast == reference and type(fast) is Envelope
    assert fast.__dict__ == reference.__dict__
    assert fast.model_fields_set == reference.model_fields_set
    assert (fast.__pydantic_extra__, fast.__pydantic_private__) == (reference.__pydantic_extra__,
                                                                    reference.__pydantic_private__)
    assert fast.encode() == reference.encode() and fast.model_dump() == reference.model_dump()
    assert Envelope.decode(fast.encode()) == Envelope.decode(reference.encode())


def test_it_behaves_as_a_model():
    fast = envelope_of(**_fields())
    other = fast.model_copy(update={"key": "other"})
    assert (other.key, fast.key) == ("other", "acme") and fast.model_fields_set == set(Envelope.model_fields)
    assert copy.deepcopy(fast) == fast
    with pytest.raises(Exception):
        fast.key = "changed"  # frozen, as every envelope


def test_every_field_is_needed():
    fields = _fields()
    del fields["causation_id"]
    with pytest.raises(TypeError):
        envelope_of(**fields)
    with pytest.raises(TypeError):
        envelope_of(**_fields(), extra=1)


def test_the_builder_still_chains_and_checks_the_instant():
    cause = build_envelope("x", 1, {}, key="k", producer="p", occurred_at=NOW)
    e = build_envelope("y", 2, {"a": 1}, key="k2", producer="q", occurred_at=NOW, cause=cause)
    assert (e.correlation_id, e.causation_id, e.schema_version) == (cause.event_id, cause.event_id, 2)
    with pytest.raises(ValueError):
        build_envelope("x", 1, {}, key="k", producer="p", occurred_at=datetime(1999, 1, 1, tzinfo=timezone.utc))
