"""The kit's one rounding under its old path in the pricing core (shared/money.py is the one module)."""

from shared.money import minor_units, round_money, round_ratio  # noqa: F401  (re-exported)
