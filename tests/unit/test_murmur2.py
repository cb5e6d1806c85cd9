"""shared.murmur2 is aiokafka's murmur2 (Kafka's default partitioner), key for key."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as reference
from hypothesis import given, strategies as st

from shared.murmur2 import murmur2


@given(st.binary(max_size=80))
def test_same_hash_as_aiokafka(data):
    assert murmur2(data) == reference(data)


def test_account_keys():
    rng = random.Random(7)
    for n in range(2000):
        key = f"bench{rng.randrange(16**6):06x}_pre-{n}".encode()
        assert murmur2(key) == reference(key)
