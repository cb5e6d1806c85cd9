"""Registry of event types (name, version -> model), upcasters, and the platform's topics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from contracts.envelope import Contract, Envelope

C = TypeVar("C", bound=type[Contract])

_MODELS: dict[tuple[str, int], type[Contract]] = {}
_TYPES: dict[type[Contract], tuple[str, int]] = {}
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
_LATEST: dict[str, int] = {}  # name -> its highest registered version (parse runs per message)


def event(name: str, version: int = 1) -> Callable[[C], C]:
    """Class decorator: register a payload model as event/command type `name`, version `version`."""

    def register(cls: C) -> C:
        if (name, version) in _MODELS:
            raise ValueError(f"event type {name} v{version} registered twice")
        _MODELS[(name, version)] = cls
        _TYPES[cls] = (name, version)
        _LATEST[name] = max(version, _LATEST.get(name, version))
        return cls

    return register


def upcaster(name: str, from_version: int) -> Callable[[Callable], Callable]:
    """Register a function turning a v`from_version` payload dict into a v`from_version + 1` one."""

    def register(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable:
        _UPCASTERS[(name, from_version)] = fn
        return fn

    return register


def type_of(cls: type[Contract]) -> tuple[str, int]:
    try:
        return _TYPES[cls]
    except KeyError:
        raise KeyError(f"{cls.__name__} is not a registered contract") from None


def latest_version(name: str) -> int:
    try:
        return _LATEST[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}") from None


def models() -> dict[tuple[str, int], type[Contract]]:
    return dict(_MODELS)


class UnknownEventType(ValueError):
    pass


def parse(envelope: Envelope, stand_ins: Mapping[type[Contract], type[Contract]] | None = None) -> Contract:
    """The envelope's payload as its model, upcast to the latest version of its type. `stand_ins`:
    a consumer's own subclass to validate as instead of a registered model (one that checks the
    same input into cheaper values, e.g. `contracts.charges.ChargesBatch`)."""
    name, version, payload = envelope.type, envelope.schema_version, envelope.payload
    target = _LATEST.get(name)
    if target is None:
        raise UnknownEventType(f"unknown event type {name!r}")
    while version < target:
        step = _UPCASTERS.get((name, version))
        if step is None:
            raise UnknownEventType(f"no upcaster for {name} v{version}")
        payload, version = step(payload), version + 1
    model = _MODELS.get((name, version))
    if model is None:
        raise UnknownEventType(f"unknown version {version} of {name!r}")
    if stand_ins:
        model = stand_ins.get(model, model)
    return model.model_validate(payload)


@dataclass(frozen=True)
class Topic:
    """A topic of the platform: its name, what its key is, partitions, retention, what it carries."""

    name: str
    description: str
    key: str = "billing account id"
    partitions: int = 8
    retention_ms: int = 7 * 24 * 3600 * 1000
    messages: tuple[str, ...] = field(default_factory=tuple)
    producers: tuple[str, ...] = field(default_factory=tuple)
    consumers: tuple[str, ...] = field(default_factory=tuple)


def dead_letter_topic(service: str) -> str:
    """Each consuming service has one dead-letter topic for the messages it gave up on."""
    return f"{service}.dead-letter"


def redrive_topic(service: str) -> str:
    """Each consuming service has one redrive topic: dead letters an operator sends back to the
    consumer that gave up on them (only that service reads it)."""
    return f"{service}.redrive"
