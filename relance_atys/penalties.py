"""Late-payment penalties and the fixed recovery indemnity (French Commercial Code).

Pure Python, no Odoo import and no database, like `engine`: the models feed
frozen dataclasses in and read a `Result` out.

* Penalties (C. com. art. L441-10): per échéance (an open receivable line of an
  invoice), for each day past its due date, the amount still unpaid that day
  × the yearly rate in force that day / 365. A payment made on day P stops
  the paid part accruing after P; a rate applies from its ``date_from`` (the
  first rate also covers the days before it). Each échéance's penalty is
  rounded as its currency rounds; totals add the rounded figures.
* Indemnity (C. com. art. L441-10 and D441-5): a fixed 40 € per invoice paid
  late, owed by business customers only (an individual is a consumer: never).
  It is counted once per invoice that has an échéance left unpaid past its
  due date, in the invoice's currency (the caller converts 40 € into it).

Nothing is computed for what the company turned off: ``Terms.penalties`` and
``Terms.indemnity`` say so, and the result is then empty.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

DAYS_PER_YEAR = 365
INDEMNITY_EUR = 40.0  # C. com. art. D441-5
MAX_RATE = 100.0


@dataclass(frozen=True, slots=True)
class Rate:
    date_from: date
    rate: float  # percent per year


# The default rate of art. L441-10 when a company set none: the ECB's main
# refinancing rate in force on 1 July 2025 (2.15 %, since 11 June 2025) plus
# 10 points. The law takes the rate in force on 1 January for the first half
# of a year and on 1 July for the second: companies enter each new rate.
DEFAULT_RATE = Rate(date(2025, 7, 1), 12.15)


@dataclass(frozen=True, slots=True)
class Due:
    """One échéance: its original amount and what was paid on it, and when."""

    id: int
    move_id: int
    currency_id: int
    due_date: date
    amount: float
    payments: tuple[tuple[date, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Terms:
    as_of: date
    rates: tuple[Rate, ...]
    penalties: bool = True
    indemnity: bool = True
    business: bool = True
    # the 40 € in each currency, and each currency's rounding (0.01 if missing)
    indemnity_amounts: Mapping[int, float] | None = None
    roundings: Mapping[int, float] | None = None


@dataclass(frozen=True, slots=True)
class Penalty:
    due_id: int
    move_id: int
    currency_id: int
    due_date: date
    days_late: int
    residual: float
    amount: float


@dataclass(frozen=True, slots=True)
class Indemnity:
    move_id: int
    currency_id: int
    amount: float


@dataclass(frozen=True, slots=True)
class Total:
    currency_id: int
    penalties: float
    indemnities: float


@dataclass(frozen=True, slots=True)
class Result:
    penalties: tuple[Penalty, ...]
    indemnities: tuple[Indemnity, ...]
    totals: tuple[Total, ...]  # one per currency, by currency id

    def by_move(self):
        """{move id: (penalty, indemnity)}, each in the move's currency."""
        moves = defaultdict(lambda: [0.0, 0.0])
        for penalty in self.penalties:
            moves[penalty.move_id][0] += penalty.amount
        for indemnity in self.indemnities:
            moves[indemnity.move_id][1] += indemnity.amount
        return {move: tuple(amounts) for move, amounts in moves.items()}


def round_to(value: float, rounding: float) -> float:
    """``value`` rounded half-up to a multiple of ``rounding`` (as Odoo's float_round)."""
    step = _step(rounding)
    units = (Decimal(repr(value)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(units * step)


@lru_cache(maxsize=64)
def _step(rounding: float) -> Decimal:
    return Decimal(str(rounding))


def check_rate(rate: float) -> bool:
    """Whether ``rate`` (percent per year) is acceptable: 0 to 100 %."""
    return 0.0 <= rate <= MAX_RATE


def rate_on(day: date, rates: Iterable[Rate]) -> float:
    """The rate in force on ``day``: the latest from before it, else the first one."""
    if isinstance(rates, (tuple, list)) and len(rates) == 1:  # the usual case: one rate
        return rates[0].rate
    ordered = sorted(rates, key=_date_from)
    if not ordered:
        return 0.0
    current = ordered[0].rate
    for rate in ordered:
        if rate.date_from > day:
            break
        current = rate.rate
    return current


def _date_from(rate: Rate) -> date:
    return rate.date_from


def outstanding(due: Due, day: date) -> float:
    """What is still unpaid of ``due`` during ``day``: payments count from the next day."""
    return due.amount - sum(amount for paid, amount in due.payments if paid < day)


def days_late(due: Due, as_of: date) -> int:
    return max((as_of - due.due_date).days, 0)


def _breaks(due: Due, terms: Terms) -> list[date]:
    """The days, after the due date, on which the base or the rate may change."""
    first, last = due.due_date + timedelta(days=1), terms.as_of
    days = {first, last + timedelta(days=1)}
    days.update(paid + timedelta(days=1) for paid, _amount in due.payments)
    days.update(rate.date_from for rate in terms.rates)
    return sorted(day for day in days if first <= day <= last + timedelta(days=1))


def penalty_amount(due: Due, terms: Terms) -> float:
    """The penalty of ``due`` at ``terms.as_of``, not rounded."""
    total = 0.0
    breaks = _breaks(due, terms)
    for start, end in zip(breaks, breaks[1:], strict=False):
        base = outstanding(due, start)
        if base > 0:
            rate = rate_on(start, terms.rates)
            total += base * rate / 100.0 * (end - start).days / DAYS_PER_YEAR
    return total


def _rounding(terms: Terms, currency_id: int) -> float:
    return (terms.roundings or {}).get(currency_id, 0.01)


def compute(dues: Iterable[Due], terms: Terms) -> Result:
    """Penalties of the late échéances and indemnities of their invoices."""
    dues = [due for due in dues if days_late(due, terms.as_of) > 0]
    penalties = []
    if terms.penalties:
        for due in sorted(dues, key=lambda d: (d.due_date, d.move_id, d.id)):
            amount = round_to(penalty_amount(due, terms), _rounding(terms, due.currency_id))
            if amount > 0:
                penalties.append(
                    Penalty(
                        due.id,
                        due.move_id,
                        due.currency_id,
                        due.due_date,
                        days_late(due, terms.as_of),
                        round_to(outstanding(due, terms.as_of), _rounding(terms, due.currency_id)),
                        amount,
                    )
                )
    indemnities = []
    if terms.indemnity and terms.business:
        late_moves = {}
        for due in dues:
            if outstanding(due, due.due_date + timedelta(days=1)) > 0:  # unpaid when due
                late_moves.setdefault(due.move_id, due.currency_id)
        for move_id, currency_id in sorted(late_moves.items()):
            amount = (terms.indemnity_amounts or {}).get(currency_id, INDEMNITY_EUR)
            indemnities.append(
                Indemnity(move_id, currency_id, round_to(amount, _rounding(terms, currency_id)))
            )
    return Result(tuple(penalties), tuple(indemnities), _totals(penalties, indemnities, terms))


def _totals(penalties, indemnities, terms) -> tuple[Total, ...]:
    sums = defaultdict(lambda: [0.0, 0.0])
    for penalty in penalties:
        sums[penalty.currency_id][0] += penalty.amount
    for indemnity in indemnities:
        sums[indemnity.currency_id][1] += indemnity.amount
    return tuple(
        Total(
            currency_id,
            round_to(amounts[0], _rounding(terms, currency_id)),
            round_to(amounts[1], _rounding(terms, currency_id)),
        )
        for currency_id, amounts in sorted(sums.items())
    )
