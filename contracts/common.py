"""Contracts shared by several producers: rejections."""

from __future__ import annotations

from typing import Any

from contracts.envelope import Contract
from contracts.registry import event


@event("command.rejected", 1)
class CommandRejectedV1(Contract):
    """A command (or event) refused with a reason code; nothing changed."""

    command_type: str
    command_id: str
    reason: str
    detail: str = ""
    account_id: str | None = None
    command: dict[str, Any] = {}
