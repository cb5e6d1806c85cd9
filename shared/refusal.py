"""One base for refusals: a reason code, a detail, and the HTTP status an edge answers with."""

from __future__ import annotations


class Refused(Exception):
    """Something refused on purpose, nothing changed: `reason` is the stable code a caller reads
    (`unknown_invoice`, `payment_id_reused`, ...), `detail` a sentence for people, `status` the
    HTTP status (`shared.http` turns every uncaught Refused into the error body with it).
    Subclasses set their usual `status`; an instance may give its own."""

    status: int = 422

    def __init__(self, reason: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail
        if status is not None:
            self.status = status
