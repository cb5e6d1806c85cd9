"""Kafka's default partitioner hash (murmur2, as the Java client and aiokafka) in about half the CPU
of aiokafka's pure-Python one: 4-byte words read at once, one mask per multiply."""

from __future__ import annotations

from functools import lru_cache
from struct import Struct

_M, _MASK, _SEED = 0x5BD1E995, 0xFFFFFFFF, 0x9747B28C


@lru_cache(maxsize=64)
def _words(n: int) -> Struct:
    return Struct(f"<{n}I")


def murmur2(data: bytes) -> int:
    """The same value as `aiokafka.partitioner.murmur2(data)` (tests/unit/test_murmur2.py)."""
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    for k in _words(length >> 2).unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length - whole
    if extra:
        if extra >= 3:
            h ^= data[whole + 2] << 16
        if extra >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)
