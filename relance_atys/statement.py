"""Statement of account ("relevé de compte"): a customer's open items, its
balance and its aged balance, per currency.

Pure Python, no Odoo import, like `engine` and `penalties`: the models read
the open receivable lines and hand them here as `Item`s.

An item is an open receivable line: an invoice's échéance (positive), a
credit note or a payment not yet allocated (negative). Its age is the days
from its due date (its date for a credit) to the statement's date; it falls
in one bucket: not due yet, 1-30, 31-60, 61-90, over 90 days. Amounts are
never added across currencies.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
BOUNDS = ((None, 0), (1, 30), (31, 60), (61, 90), (91, None))


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    currency_id: int
    due_date: date
    residual: float


@dataclass(frozen=True, slots=True)
class Balance:
    currency_id: int
    total: float
    buckets: tuple[float, ...]  # in the order of BUCKETS


def bucket_of(days: int) -> int:
    """The index in BUCKETS of an item ``days`` past due (<= 0: not due)."""
    for index, (low, high) in enumerate(BOUNDS):
        if (low is None or days >= low) and (high is None or days <= high):
            return index
    raise ValueError(days)


def days_past_due(item: Item, as_of: date) -> int:
    return (as_of - item.due_date).days


def balances(items: Iterable[Item], as_of: date, rounding: dict | None = None) -> list[Balance]:
    """The balance and aged buckets of ``items`` per currency, by currency id.

    ``rounding`` ({currency id: digits}) rounds the sums (2 digits if missing)."""
    sums = defaultdict(lambda: [0.0] * len(BUCKETS))
    for item in items:
        sums[item.currency_id][bucket_of(days_past_due(item, as_of))] += item.residual
    result = []
    for currency_id in sorted(sums):
        digits = (rounding or {}).get(currency_id, 2)
        buckets = tuple(round(value, digits) + 0.0 for value in sums[currency_id])
        result.append(Balance(currency_id, round(sum(sums[currency_id]), digits) + 0.0, buckets))
    return result
