"""Tests of the pure signature-reminder decision (Atys seed 000): each threshold
around its boundary, the repeats, the minimum interval, and hypothesis
properties of a quotation processed again and again.
"""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from odoo.addons.relance_atys import signature

Thresholds, Decision, decide = signature.Thresholds, signature.Decision, signature.decide
NOT_DUE, TOO_RECENT = signature.R_NOT_DUE, signature.R_TOO_RECENT
AS_OF = date(2026, 3, 31)
DEFAULTS = Thresholds()  # 30, 60, 90 days, 7 days apart


def created(age):
    return AS_OF - timedelta(days=age)


@tagged("post_install", "-at_install")
class TestThresholds(BaseCase):
    def test_defaults_are_the_seeds(self):
        self.assertEqual(
            (DEFAULTS.first, DEFAULTS.second, DEFAULTS.repeat, DEFAULTS.min_interval),
            (30, 60, 90, 7),
        )

    def test_boundaries(self):
        """A threshold is reached on its very day: 30 days after creation is due."""
        long_ago = AS_OF - timedelta(days=25)
        table = [
            # age, level, last reminder, expected
            (29, 0, None, Decision(reason=NOT_DUE)),
            (30, 0, None, Decision(level=1)),
            (31, 0, None, Decision(level=1)),
            (59, 1, long_ago, Decision(reason=NOT_DUE)),
            (60, 1, long_ago, Decision(level=2)),
            (61, 1, long_ago, Decision(level=2)),
            (89, 2, long_ago, Decision(reason=NOT_DUE)),
            (90, 2, long_ago, Decision(level=3)),
            (91, 2, long_ago, Decision(level=3)),
        ]
        for age, level, last, expected in table:
            with self.subTest(age=age, level=level):
                self.assertEqual(decide(created(age), level, last, AS_OF, DEFAULTS), expected)

    def test_repeats_past_the_last_threshold(self):
        """Past 90 days, one reminder at each processing, the level going up."""
        start, level, last = date(2026, 1, 1), 2, date(2026, 3, 1)
        sent = []
        for week in range(13, 20):
            as_of = start + timedelta(weeks=week)
            decision = decide(start, level, last, as_of, DEFAULTS)
            self.assertTrue(decision.due, as_of)
            sent.append(decision.level)
            level, last = decision.level, as_of
        self.assertEqual(sent, [3, 4, 5, 6, 7, 8, 9])

    def test_repeat_on_any_level(self):
        """Level 0 or 1 past 90 days: one reminder, one level up, no step skipped."""
        self.assertEqual(decide(created(95), 0, None, AS_OF, DEFAULTS), Decision(level=1))
        self.assertEqual(decide(created(95), 1, created(40), AS_OF, DEFAULTS), Decision(level=2))

    def test_a_missed_first_reminder_is_sent_late(self):
        self.assertEqual(decide(created(65), 0, None, AS_OF, DEFAULTS), Decision(level=1))

    def test_reminded_once_waits_for_the_second_threshold(self):
        self.assertEqual(
            decide(created(45), 1, created(15), AS_OF, DEFAULTS), Decision(reason=NOT_DUE)
        )

    def test_level_two_waits_for_the_repeat_threshold(self):
        self.assertEqual(
            decide(created(75), 2, created(10), AS_OF, DEFAULTS), Decision(reason=NOT_DUE)
        )

    def test_company_thresholds(self):
        thresholds = Thresholds(first=10, second=20, repeat=40, min_interval=3)
        self.assertEqual(decide(created(9), 0, None, AS_OF, thresholds).reason, NOT_DUE)
        self.assertEqual(decide(created(10), 0, None, AS_OF, thresholds).level, 1)
        self.assertEqual(decide(created(20), 1, created(5), AS_OF, thresholds).level, 2)
        self.assertEqual(decide(created(40), 2, created(3), AS_OF, thresholds).level, 3)
        self.assertEqual(decide(created(40), 2, created(2), AS_OF, thresholds).reason, TOO_RECENT)


@tagged("post_install", "-at_install")
class TestMinimumInterval(BaseCase):
    def test_around_the_interval(self):
        for days_since, expected in [
            (0, Decision(reason=TOO_RECENT)),
            (6, Decision(reason=TOO_RECENT)),
            (7, Decision(level=4)),
            (8, Decision(level=4)),
        ]:
            with self.subTest(days_since=days_since):
                last = AS_OF - timedelta(days=days_since)
                self.assertEqual(decide(created(120), 3, last, AS_OF, DEFAULTS), expected)

    def test_a_manual_run_then_the_scheduled_one(self):
        """The day after a manual reminder, the scheduled run sends nothing."""
        first = decide(created(100), 2, created(30), AS_OF, DEFAULTS)
        self.assertEqual(first, Decision(level=3))
        next_day = AS_OF + timedelta(days=1)
        self.assertEqual(
            decide(created(100), first.level, AS_OF, next_day, DEFAULTS),
            Decision(reason=TOO_RECENT),
        )

    def test_not_due_wins_over_too_recent(self):
        self.assertEqual(
            decide(created(40), 1, created(2), AS_OF, DEFAULTS), Decision(reason=NOT_DUE)
        )

    def test_a_reminder_dated_after_the_run_is_too_recent(self):
        later = AS_OF + timedelta(days=3)
        self.assertEqual(decide(created(120), 3, later, AS_OF, DEFAULTS).reason, TOO_RECENT)

    def test_zero_interval(self):
        thresholds = Thresholds(min_interval=0)
        self.assertEqual(decide(created(120), 3, AS_OF, AS_OF, thresholds), Decision(level=4))


@tagged("post_install", "-at_install")
class TestScreen(BaseCase):
    def test_reasons_in_order(self):
        screen = signature.screen
        self.assertEqual(screen(False, False, False), signature.R_FILTERED)
        self.assertEqual(screen(True, False, False), signature.R_NO_EMAIL)
        self.assertEqual(screen(True, True, False), signature.R_NO_SEND_DOC)
        self.assertIsNone(screen(True, True, True))

    def test_age(self):
        self.assertEqual(signature.age_in_days(date(2026, 3, 1), date(2026, 3, 31)), 30)


thresholds_st = st.builds(
    lambda first, gap1, gap2, interval: Thresholds(
        first, first + gap1, first + gap1 + gap2, interval
    ),
    st.integers(0, 60),
    st.integers(1, 60),
    st.integers(1, 60),
    st.integers(0, 30),
)


@tagged("post_install", "-at_install")
class TestProperties(BaseCase):
    @settings(max_examples=200, deadline=None)
    @given(
        thresholds=thresholds_st,
        gaps=st.lists(st.integers(0, 40), min_size=1, max_size=40),
    )
    def test_processing_again_and_again(self, thresholds, gaps):
        """Process one quotation on increasing dates, as runs would.

        Levels go up one at a time; the first reminder never comes before the
        first threshold, the second before the second, later ones before the
        repeat threshold; two reminders are never closer than the interval.
        """
        start = date(2026, 1, 1)
        level, last, as_of = 0, None, start
        for gap in gaps:
            as_of += timedelta(days=gap)
            decision = decide(start, level, last, as_of, thresholds)
            if not decision.due:
                continue
            age = (as_of - start).days
            self.assertEqual(decision.level, level + 1)
            floor = {1: thresholds.first, 2: thresholds.second}.get(
                decision.level, thresholds.repeat
            )
            self.assertGreaterEqual(age, floor)
            if last:
                self.assertGreaterEqual((as_of - last).days, thresholds.min_interval)
            level, last = decision.level, as_of

    @settings(max_examples=200, deadline=None)
    @given(
        thresholds=thresholds_st,
        age=st.integers(-10, 400),
        level=st.integers(0, 12),
        since=st.one_of(st.none(), st.integers(-5, 100)),
    )
    def test_exactly_one_answer(self, thresholds, age, level, since):
        last = None if since is None else AS_OF - timedelta(days=since)
        decision = decide(created(age), level, last, AS_OF, thresholds)
        self.assertNotEqual(decision.level is None, decision.reason is None)
        self.assertIn(decision.reason, (None, NOT_DUE, TOO_RECENT))

    @settings(max_examples=200, deadline=None)
    @given(thresholds=thresholds_st, age=st.integers(0, 400), level=st.integers(0, 12))
    def test_a_due_quotation_stays_due(self, thresholds, age, level):
        """Never reminded again since, a due quotation is still due a day later."""
        if decide(created(age), level, None, AS_OF, thresholds).due:
            self.assertTrue(decide(created(age + 1), level, None, AS_OF, thresholds).due)
