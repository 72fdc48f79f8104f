"""Tests of the pure penalty calculator (C. com. L441-10, D441-5): a table of
cases worked by hand, then properties."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from odoo.addons.relance_atys import penalties as pen

Due, Rate, Terms = pen.Due, pen.Rate, pen.Terms
EUR, JPY = 1, 2
H2_2025 = (Rate(date(2025, 7, 1), 12.15),)  # ECB 2.15 % on 1 July 2025 + 10 points
RATE_CHANGE = (Rate(date(2025, 1, 1), 13.15), Rate(date(2025, 7, 1), 12.15))


def terms(as_of, rates=H2_2025, **kw):
    kw.setdefault("roundings", {EUR: 0.01, JPY: 1.0})
    kw.setdefault("indemnity_amounts", {EUR: 40.0, JPY: 6500.0})
    return Terms(as_of, rates, **kw)


@tagged("post_install", "-at_install")
class TestPenaltyCases(BaseCase):
    # name, échéances, terms, expected penalties {due id: amount},
    # expected indemnities {move id: amount}, expected totals {currency: (pen, ind)}
    ROWS = (
        (
            "30 days late on 1,000 € at 12.15 %: 1000 × 12.15 % × 30 / 365 = 9.986",
            [Due(1, 10, EUR, date(2025, 9, 1), 1000.0)],
            terms(date(2025, 10, 1)),
            {1: 9.99},
            {10: 40.0},
            {EUR: (9.99, 40.0)},
        ),
        (
            "rate change on 1 July: 10 days at 13.15 % then 10 days at 12.15 %: 6.932",
            [Due(1, 10, EUR, date(2025, 6, 20), 1000.0)],
            terms(date(2025, 7, 10), rates=RATE_CHANGE),
            {1: 6.93},
            {10: 40.0},
            {EUR: (6.93, 40.0)},
        ),
        (
            "rates given out of order: the same",
            [Due(1, 10, EUR, date(2025, 6, 20), 1000.0)],
            terms(date(2025, 7, 10), rates=tuple(reversed(RATE_CHANGE))),
            {1: 6.93},
            {10: 40.0},
            {EUR: (6.93, 40.0)},
        ),
        (
            "before the first rate's date, the first rate applies: 30 days at 12.15 %",
            [Due(1, 10, EUR, date(2025, 1, 1), 1000.0)],
            terms(date(2025, 1, 31)),
            {1: 9.99},
            {10: 40.0},
            {EUR: (9.99, 40.0)},
        ),
        (
            "partial payment of 400 on 11 March: 1000 × 10 days + 600 × 20 days: 7.323",
            [Due(1, 10, EUR, date(2025, 3, 1), 1000.0, ((date(2025, 3, 11), 400.0),))],
            terms(date(2025, 3, 31)),
            {1: 7.32},
            {10: 40.0},
            {EUR: (7.32, 40.0)},
        ),
        (
            "payment before the due date lowers the base from the start: 600 × 30 days",
            [Due(1, 10, EUR, date(2025, 3, 1), 1000.0, ((date(2025, 2, 20), 400.0),))],
            terms(date(2025, 3, 31)),
            {1: 5.99},
            {10: 40.0},
            {EUR: (5.99, 40.0)},
        ),
        (
            "paid in full before the due date: nothing",
            [Due(1, 10, EUR, date(2025, 3, 1), 1000.0, ((date(2025, 2, 20), 1000.0),))],
            terms(date(2025, 3, 31)),
            {},
            {},
            {},
        ),
        (
            "paid in full 10 days late: 10 days of penalty, and the indemnity",
            [Due(1, 10, EUR, date(2025, 3, 1), 1000.0, ((date(2025, 3, 11), 1000.0),))],
            terms(date(2025, 3, 31)),
            {1: 3.33},
            {10: 40.0},
            {EUR: (3.33, 40.0)},
        ),
        (
            "two échéances of one invoice, the second due today: one penalty, one indemnity",
            [
                Due(1, 10, EUR, date(2025, 9, 1), 500.0),
                Due(2, 10, EUR, date(2025, 10, 1), 500.0),
            ],
            terms(date(2025, 10, 1)),
            {1: 4.99},
            {10: 40.0},
            {EUR: (4.99, 40.0)},
        ),
        (
            "two invoices, three late échéances: 40 € per invoice, not per échéance",
            [
                Due(1, 10, EUR, date(2025, 9, 1), 500.0),
                Due(2, 10, EUR, date(2025, 9, 16), 500.0),
                Due(3, 11, EUR, date(2025, 9, 1), 250.0),
            ],
            terms(date(2025, 10, 1)),
            {1: 4.99, 2: 2.50, 3: 2.50},
            {10: 40.0, 11: 40.0},
            {EUR: (9.99, 80.0)},
        ),
        (
            "an individual (a consumer): penalties, never the 40 €",
            [Due(1, 10, EUR, date(2025, 9, 1), 1000.0)],
            terms(date(2025, 10, 1), business=False),
            {1: 9.99},
            {},
            {EUR: (9.99, 0.0)},
        ),
        (
            "penalties turned off: no penalty, the indemnity stays",
            [Due(1, 10, EUR, date(2025, 9, 1), 1000.0)],
            terms(date(2025, 10, 1), penalties=False),
            {},
            {10: 40.0},
            {EUR: (0.0, 40.0)},
        ),
        (
            "both turned off: nothing at all",
            [Due(1, 10, EUR, date(2025, 9, 1), 1000.0)],
            terms(date(2025, 10, 1), penalties=False, indemnity=False),
            {},
            {},
            {},
        ),
        (
            "not late yet (due today): nothing",
            [Due(1, 10, EUR, date(2025, 10, 1), 1000.0)],
            terms(date(2025, 10, 1)),
            {},
            {},
            {},
        ),
        (
            "yen invoice: computed and rounded in yen (998.63 -> 999), 40 € converted",
            [Due(1, 10, JPY, date(2025, 9, 1), 100000.0)],
            terms(date(2025, 10, 1)),
            {1: 999.0},
            {10: 6500.0},
            {JPY: (999.0, 6500.0)},
        ),
        (
            "two currencies: never added together",
            [
                Due(1, 10, EUR, date(2025, 9, 1), 1000.0),
                Due(2, 11, JPY, date(2025, 9, 1), 100000.0),
            ],
            terms(date(2025, 10, 1)),
            {1: 9.99, 2: 999.0},
            {10: 40.0, 11: 6500.0},
            {EUR: (9.99, 40.0), JPY: (999.0, 6500.0)},
        ),
        (
            "rate 0 %: no penalty, the indemnity stays",
            [Due(1, 10, EUR, date(2025, 9, 1), 1000.0)],
            terms(date(2025, 10, 1), rates=(Rate(date(2025, 1, 1), 0.0),)),
            {},
            {10: 40.0},
            {EUR: (0.0, 40.0)},
        ),
        (
            "36.5 % a year is 0.1 % a day: 1000 -> 1.00; 27.4 -> 0.0274, rounded to 0.03",
            [
                Due(1, 10, EUR, date(2025, 9, 30), 1000.0),
                Due(2, 11, EUR, date(2025, 9, 30), 27.4),
            ],
            terms(date(2025, 10, 1), rates=(Rate(date(2025, 1, 1), 36.5),)),
            {1: 1.0, 2: 0.03},
            {10: 40.0, 11: 40.0},
            {EUR: (1.03, 80.0)},
        ),
    )

    def test_cases(self):
        for name, dues, trm, penalties, indemnities, totals in self.ROWS:
            with self.subTest(name):
                result = pen.compute(dues, trm)
                self.assertEqual({p.due_id: p.amount for p in result.penalties}, penalties)
                self.assertEqual({i.move_id: i.amount for i in result.indemnities}, indemnities)
                self.assertEqual(
                    {t.currency_id: (t.penalties, t.indemnities) for t in result.totals}, totals
                )

    def test_days_late_and_residual_of_a_penalty(self):
        due = Due(1, 10, EUR, date(2025, 3, 1), 1000.0, ((date(2025, 3, 11), 400.0),))
        (penalty,) = pen.compute([due], terms(date(2025, 3, 31))).penalties
        self.assertEqual((penalty.days_late, penalty.residual), (30, 600.0))

    def test_by_move(self):
        dues = [
            Due(1, 10, EUR, date(2025, 9, 1), 500.0),
            Due(2, 10, EUR, date(2025, 9, 16), 500.0),
        ]
        result = pen.compute(dues, terms(date(2025, 10, 1)))
        self.assertEqual(result.by_move(), {10: (7.49, 40.0)})

    def test_round_to(self):
        for value, rounding, expected in (
            (2.675, 0.01, 2.68),
            (2.665, 0.01, 2.67),
            (0.005, 0.01, 0.01),
            (0.0049, 0.01, 0.0),
            (998.5, 1.0, 999.0),
            (12.34, 0.05, 12.35),
        ):
            with self.subTest(value=value, rounding=rounding):
                self.assertEqual(pen.round_to(value, rounding), expected)

    def test_check_rate(self):
        for rate, ok in ((-0.01, False), (0.0, True), (12.15, True), (100.0, True), (100.5, False)):
            with self.subTest(rate=rate):
                self.assertEqual(pen.check_rate(rate), ok)

    def test_rate_on(self):
        self.assertEqual(pen.rate_on(date(2025, 6, 30), RATE_CHANGE), 13.15)
        self.assertEqual(pen.rate_on(date(2025, 7, 1), RATE_CHANGE), 12.15)
        self.assertEqual(pen.rate_on(date(2024, 1, 1), RATE_CHANGE), 13.15)
        self.assertEqual(pen.rate_on(date(2024, 1, 1), ()), 0.0)


amounts = st.integers(min_value=1, max_value=10_000_000).map(lambda cents: cents / 100)
days = st.integers(min_value=0, max_value=800)
rates = st.floats(min_value=0, max_value=100, allow_nan=False)


@tagged("post_install", "-at_install")
class TestPenaltyProperties(BaseCase):
    @given(amounts, days, rates)
    def test_one_rate_no_payment_is_the_formula(self, amount, late, rate):
        due = Due(1, 1, EUR, date(2025, 1, 1), amount)
        result = pen.compute(
            [due], terms(date(2025, 1, 1) + timedelta(days=late), (Rate(date(2024, 1, 1), rate),))
        )
        expected = pen.round_to(amount * rate / 100 * late / 365, 0.01)
        self.assertEqual(sum(p.amount for p in result.penalties), expected)

    @given(amounts, days, days, st.integers(min_value=0, max_value=100).map(lambda p: p / 100))
    def test_a_payment_never_raises_the_penalty(self, amount, late, paid_after, share):
        due_date = date(2025, 1, 1)
        as_of = due_date + timedelta(days=late)
        unpaid = Due(1, 1, EUR, due_date, amount)
        paid = Due(
            1, 1, EUR, due_date, amount, ((due_date + timedelta(days=paid_after), amount * share),)
        )
        self.assertLessEqual(
            pen.penalty_amount(paid, terms(as_of)), pen.penalty_amount(unpaid, terms(as_of)) + 1e-9
        )

    @given(amounts, days, days)
    def test_penalty_grows_with_time(self, amount, late, more):
        due = Due(1, 1, EUR, date(2025, 1, 1), amount)
        early = date(2025, 1, 1) + timedelta(days=late)
        self.assertLessEqual(
            pen.penalty_amount(due, terms(early, RATE_CHANGE)),
            pen.penalty_amount(due, terms(early + timedelta(days=more), RATE_CHANGE)) + 1e-9,
        )
