"""Signature reminders (Atys "Relance signature pièces", seed 000): which level next.

Pure Python, no Odoo import and no database: the quotation model gathers its
quotations waiting for a signature, asks `screen` and `decide` for each one,
and writes what they answer.

Levels and thresholds, counted in whole days since the quotation's creation
(``age = as_of - created``), a threshold being reached on its very day:

* level 0 -> 1 when ``age >= first`` (30 days by default): created on 1 March,
  the first reminder is due on 31 March, not on 30 March;
* level 1 -> 2 when ``age >= second`` (60 days);
* any level -> level + 1 when ``age >= repeat`` (90 days): one reminder at each
  processing, however many were sent before;
* never two reminders of one document less than ``min_interval`` days apart:
  ``as_of - last_date >= min_interval`` (a weekly processing with the default
  7 days sends each week, a manual run the day after sends nothing).

A quotation that missed a step (level 0 at 65 days, never processed before)
gets one reminder, level 1: levels go up by one at a time.
"""

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

R_FILTERED = "filtered"
R_NO_EMAIL = "no_email"
R_NO_SEND_DOC = "no_send_doc"
R_NOT_DUE = "not_due"
R_TOO_RECENT = "too_recent"
R_NOT_WAITING = "not_waiting"

REASONS = (R_FILTERED, R_NO_EMAIL, R_NO_SEND_DOC, R_NOT_DUE, R_TOO_RECENT, R_NOT_WAITING)


@dataclass(frozen=True)
class Thresholds:
    """A company's settings, in days."""

    first: int = 30
    second: int = 60
    repeat: int = 90
    min_interval: int = 7


class Decision(NamedTuple):
    """Either the level to send (``level``) or why nothing is sent (``reason``)."""

    level: int | None = None
    reason: str | None = None

    @property
    def due(self):
        return self.level is not None


def age_in_days(created: date, as_of: date) -> int:
    return (as_of - created).days


def is_due(age: int, level: int, thresholds: Thresholds) -> bool:
    """Whether a quotation this old, reminded ``level`` times, needs one more."""
    return (
        (level == 0 and age >= thresholds.first)
        or (level == 1 and age >= thresholds.second)
        or age >= thresholds.repeat
    )


def decide(
    created: date, level: int, last_date: date | None, as_of: date, thresholds: Thresholds
) -> Decision:
    """The next reminder level of an unsigned quotation, or why there is none.

    "Not due" wins over "too recent": a document that is not due would not be
    sent whatever its last reminder.
    """
    if not is_due(age_in_days(created, as_of), level, thresholds):
        return Decision(reason=R_NOT_DUE)
    if last_date and (as_of - last_date).days < thresholds.min_interval:
        return Decision(reason=R_TOO_RECENT)
    return Decision(level=level + 1)


def screen(selected: bool, has_email: bool, send_doc: bool) -> str | None:
    """Why a quotation is left out before its dates are looked at, if it is.

    ``selected``: it passes the run's filters; ``has_email``: its partner or
    commercial partner has an address; ``send_doc``: "Envoi doc" is ticked.
    """
    if not selected:
        return R_FILTERED
    if not has_email:
        return R_NO_EMAIL
    if not send_doc:
        return R_NO_SEND_DOC
    return None
