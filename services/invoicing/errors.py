"""Invoicing's refusals that are not a rule's: what does not exist (404) and what conflicts (409)."""


class NotFound(LookupError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class Conflict(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail
