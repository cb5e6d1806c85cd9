"""Compare a scenario's result with its `expected` member: fields not expected and order are ignored."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

_NUMERIC = {"quantity", "amount", "total", "unit_price", "count", "event", "days", "month_days"}
_NUMERIC |= {"balance", "shortfall"}  # version 2: credits
_INSTANTS = {"at"}  # version 2: instants compare as instants, whatever their offset


def _norm(key: str, value):
    if key in _INSTANTS and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    if key in _NUMERIC and value is not None and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return value
    return value


def _matches(expected: dict, actual: dict) -> bool:
    return all(k in actual and _norm(k, v) == _norm(k, actual[k]) for k, v in expected.items())


def _show(item: dict) -> str:
    return json.dumps(item, sort_keys=True)


def _multiset_diff(what: str, expected: list[dict], actual: list[dict]) -> list[str]:
    """Expected items without a matching actual item, and actual items nobody expected."""
    left = list(actual)
    missing = []
    for item in expected:
        for i, candidate in enumerate(left):
            if _matches(item, candidate):
                del left[i]
                break
        else:
            missing.append(f"{what}: missing {_show(item)}")
    keys = set().union(*(item.keys() for item in expected)) if expected else None
    extra = [f"{what}: unexpected {_show({k: v for k, v in item.items() if keys is None or k in keys})}"
             for item in left]
    return missing + extra


def diff(expected: dict, actual: dict) -> list[str]:
    """Every difference between `expected` and `actual`, one line each (empty when they agree)."""
    problems: list[str] = []
    if "invoices" in expected:
        by_key = {(i["account"], i["month"]): i for i in actual["invoices"]}
        seen = set()
        for inv in expected["invoices"]:
            key = (inv.get("account"), inv.get("month"))
            seen.add(key)
            got = by_key.get(key)
            label = f"invoice {key[0]} {key[1]}"
            if got is None:
                problems.append(f"{label}: missing")
                continue
            for field, value in inv.items():
                if field != "lines" and _norm(field, value) != _norm(field, got.get(field)):
                    problems.append(f"{label}: {field} expected {value!r}, got {got.get(field)!r}")
            if "lines" in inv:
                problems += _multiset_diff(f"{label} line", inv["lines"], got["lines"])
        for key, got in by_key.items():
            if key not in seen:
                problems.append(f"invoice {key[0]} {key[1]}: unexpected (total {got['total']})")
    for part in ("terminations", "rejections"):
        if part in expected:
            problems += _multiset_diff(part[:-1], expected[part], actual[part])
    if "credit" in expected:
        problems += _credit_diff(expected["credit"], actual.get("credit", []))
    if "notices" in expected:
        problems += _multiset_diff("notice", expected["notices"], actual.get("notices", []))
    return problems


def _credit_diff(expected: list[dict], actual: list[dict]) -> list[str]:
    """Version 2 `credit`: one per prepaid account; its history compared entry by entry, in order."""
    problems = []
    by_account = {c["account"]: c for c in actual}
    for want in expected:
        label = f"credit {want.get('account')}"
        got = by_account.pop(want.get("account"), None)
        if got is None:
            problems.append(f"{label}: missing")
            continue
        for field, value in want.items():
            if field != "history" and _norm(field, value) != _norm(field, got.get(field)):
                problems.append(f"{label}: {field} expected {value!r}, got {got.get(field)!r}")
        if "history" in want:
            history = got.get("history", [])
            for i, entry in enumerate(want["history"]):
                if i >= len(history) or not _matches(entry, history[i]):
                    shown = _show(history[i]) if i < len(history) else "nothing"
                    problems.append(f"{label} history[{i}]: expected {_show(entry)}, got {shown}")
            problems += [f"{label} history[{i}]: unexpected {_show(e)}"
                         for i, e in enumerate(history[len(want["history"]):], len(want["history"]))]
    problems += [f"credit {account}: unexpected (balance {c['balance']})" for account, c in by_account.items()]
    return problems
