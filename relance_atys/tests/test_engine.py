"""Tests of the pure dunning engine: seed examples (Atys seed 001, Akuiteo seed 002),
filters, grouping, thresholds, and hypothesis properties of the three rules.
"""

import math
from collections import Counter
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from odoo.addons.relance_atys import engine

Level, Item, Partner, Params = engine.Level, engine.Item, engine.Partner, engine.Params
SEQ, BOUNDS, PROG = engine.RULE_SEQUENTIAL, engine.RULE_BOUNDS, engine.RULE_PROGRESSIVE
DUE = date(2024, 7, 7)
PROG_LEVELS = (Level(1, 0, 5), Level(2, 6, 10), Level(3, 6, 99))
BOUNDS_LEVELS = (Level(1, -5, 10), Level(2, 11, 30))
THREE = (Level(1, 0, 14), Level(2, 15, 29), Level(3, 30, 59))


def july(day):
    return date(2024, 7, day)


def doc(id=1, partner=1, currency=1, residual=100.0, due=DUE, **kw):
    return Item(id, partner, currency, due, residual, **kw)


def params(rule, as_of=None, levels=THREE, **kw):
    return Params(as_of or july(31), rule, levels, **kw)


def outcome(item, prm):
    """Level proposed by level_for, or the skip reason."""
    level, _repeat, reason = engine.level_for(item, prm)
    return level if reason is None else reason


def proposed_ids(proposal):
    return sorted(p.item.id for g in proposal.groups for p in g.proposed)


def reasons(proposal):
    return {s.item_id: s.reason for s in proposal.skipped}


@tagged("post_install", "-at_install")
class TestSeedProgressive(BaseCase):
    """Akuiteo seed 002, RELCLI_BORNEREL: L1 [0,5], L2 [6,10], L3 [6,99], due 7 July."""

    ROWS = (  # name, (current level, last reminder), reminder date, expected
        ("first reminder on 10 July -> level 1", (0, None), 10, 1),
        ("first reminder on 20 July -> level 1", (0, None), 20, 1),
        ("after level 1 on 10 July, 16 July (6-day wait) -> level 2", (1, 10), 16, 2),
        ("after level 2 on 16 July, 26 July (10-day wait) -> level 3", (2, 16), 26, 3),
        ("after level 1 on 10 July, 15 July (5-day wait) -> too recent", (1, 10), 15,
         engine.R_TOO_RECENT),
        ("first reminder on 6 July (before due) -> not due", (0, None), 6,
         engine.R_NOT_DUE),
    )  # fmt: skip

    def test_seed_rows(self):
        for name, (current, last), day, expected in self.ROWS:
            with self.subTest(name):
                item = doc(level=current, last_date=last and july(last))
                prm = params(PROG, july(day), PROG_LEVELS)
                self.assertEqual(outcome(item, prm), expected)

    def test_level_0_counts_days_late_not_a_stray_last_date(self):
        item = doc(level=0, last_date=july(19))
        prm = params(PROG, july(20), (Level(1, 5, 10), Level(2, 6, 10)))
        self.assertEqual(outcome(item, prm), 1)

    def test_level_filter_other_level(self):
        prm = params(PROG, july(20), PROG_LEVELS, level=2)
        self.assertEqual(outcome(doc(), prm), engine.R_OTHER_LEVEL)


@tagged("post_install", "-at_install")
class TestSeedBounds(BaseCase):
    """Akuiteo seed 002 default: L1 [-5,10], L2 [11,30], due 7 July."""

    ROWS = (
        ("level 1 from 2 July", july(2), 1),
        ("not due on 1 July", july(1), engine.R_NOT_DUE),
        ("level 1 up to 17 July (10 days late)", july(17), 1),
        ("18 July (11 days) level 2 even if level 1 never sent", july(18), 2),
        ("past the highest upper bound: top level", date(2024, 9, 1), 2),
    )

    def test_seed_rows(self):
        for name, as_of, expected in self.ROWS:
            with self.subTest(name):
                prm = params(BOUNDS, as_of, BOUNDS_LEVELS)
                self.assertEqual(outcome(doc(), prm), expected)

    def test_gap_between_bounds_is_no_level(self):
        prm = params(BOUNDS, july(14), (Level(1, 0, 5), Level(3, 10, 20)))
        self.assertEqual(outcome(doc(), prm), engine.R_NO_LEVEL)

    def test_overlap_takes_highest_number(self):
        prm = params(BOUNDS, july(14), (Level(1, 0, 10), Level(2, 5, 20)))
        self.assertEqual(outcome(doc(), prm), 2)

    def test_computed_not_above_current_is_already_dunned(self):
        prm = params(BOUNDS, july(18), (*BOUNDS_LEVELS, Level(3, 31, 60)))
        self.assertEqual(outcome(doc(level=2), prm), engine.R_ALREADY)

    def test_level_filter(self):
        prm = params(BOUNDS, july(18), BOUNDS_LEVELS, level=1)
        self.assertEqual(outcome(doc(), prm), engine.R_OTHER_LEVEL)
        prm = params(BOUNDS, july(18), BOUNDS_LEVELS, level=2)
        self.assertEqual(outcome(doc(), prm), 2)


@tagged("post_install", "-at_install")
class TestSeedSequential(BaseCase):
    """Atys seed 001: the user asks for a level; partners at the level before it."""

    def test_asked_level_2_only_partners_at_level_1(self):
        items = [doc(3, partner=3), doc(1, partner=1), doc(2, partner=2)]
        partners = {
            1: Partner(1, level=0),
            2: Partner(2, level=1),
            3: Partner(3, level=2),
        }
        proposal = engine.propose(items, partners, params(SEQ, level=2))
        self.assertEqual(proposed_ids(proposal), [2])
        self.assertEqual(reasons(proposal), {1: "partner_level", 3: "partner_level"})
        self.assertEqual([s.item_id for s in proposal.skipped], [1, 3])

    SELECTION_ROWS = (
        ("lower with level 2 takes documents at level 1 and 0", "lower", [10, 11]),
        ("previous takes only level 1", "previous", [11]),
        ("never takes only level 0", "never", [10]),
    )

    def test_selection_modes(self):
        items = [doc(10, level=0), doc(11, level=1), doc(12, level=2)]
        partners = {1: Partner(1, level=1)}
        for name, mode, expected in self.SELECTION_ROWS:
            with self.subTest(name):
                prm = params(SEQ, level=2, selection=mode)
                proposal = engine.propose(items, partners, prm)
                self.assertEqual(proposed_ids(proposal), expected)
                self.assertEqual(reasons(proposal)[12], engine.R_ALREADY)

    def test_previous_is_the_configured_level_below(self):
        items = [doc(10, level=0), doc(11, level=1), doc(12, level=2)]
        levels = (Level(1, 0, 14), Level(3, 15, 99))  # no level 2 configured
        for mode, expected in (("previous", [11]), ("lower", [10, 11, 12])):
            with self.subTest(mode):
                prm = params(SEQ, levels=levels, level=3, selection=mode)
                proposal = engine.propose(items, {1: Partner(1, level=1)}, prm)
                self.assertEqual(proposed_ids(proposal), expected)

    def test_selection_skip_reason(self):
        prm = params(SEQ, level=2, selection="never")
        self.assertEqual(outcome(doc(level=1), prm), engine.R_SELECTION)

    def test_days_below_requested_lower_bound_not_due(self):
        prm = params(SEQ, july(20), level=2)  # 13 days late, L2 starts at 15
        self.assertEqual(outcome(doc(level=1), prm), engine.R_NOT_DUE)

    def test_partner_missing_from_mapping_is_default(self):
        proposal = engine.propose([doc()], {}, params(SEQ, level=1))
        self.assertEqual(proposed_ids(proposal), [1])


@tagged("post_install", "-at_install")
class TestTopLevelRepeat(BaseCase):
    """Under every rule the top level is sent again every repeat_days (30)."""

    def test_bounds_and_progressive(self):
        as_of = date(2024, 10, 1)
        for rule in (BOUNDS, PROG):
            for age, expected in (
                (30, (3, True, None)),
                (29, (None, False, engine.R_TOO_RECENT)),
            ):
                with self.subTest(rule=rule, age=age):
                    item = doc(level=3, last_date=as_of - timedelta(age))
                    got = engine.level_for(item, params(rule, as_of))
                    self.assertEqual(got, expected)

    def test_sequential_partner_and_document(self):
        as_of = date(2024, 10, 1)
        old, recent = as_of - timedelta(30), as_of - timedelta(29)
        rows = [
            ("partner and document old enough: repeat", old, old, "repeat"),
            ("partner at top never dated: repeat", None, old, "repeat"),
            ("partner reminded too recently", recent, old, engine.R_PARTNER_LEVEL),
            ("document reminded too recently", old, recent, engine.R_ALREADY),
        ]
        for name, partner_last, doc_last, expected in rows:
            with self.subTest(name):
                partners = {1: Partner(1, level=3, last_date=partner_last)}
                item = doc(level=3, last_date=doc_last)
                prm = params(SEQ, as_of, level=3)
                proposal = engine.propose([item], partners, prm)
                if expected == "repeat":
                    got = proposal.groups[0].proposed[0]
                    self.assertEqual((got.level, got.repeat), (3, True))
                else:
                    self.assertEqual(reasons(proposal), {1: expected})

    def test_below_top_level_does_not_repeat(self):
        prm = params(SEQ, date(2024, 10, 1), level=2)
        self.assertEqual(outcome(doc(level=2, last_date=DUE), prm), engine.R_ALREADY)


@tagged("post_install", "-at_install")
class TestFilters(BaseCase):
    """Exclusions applied before any rule, to every document of the partner."""

    ROWS = (
        ("partner excluded", Partner(1, excluded=True), {}, "partner_excluded"),
        ("partner not enabled", Partner(1, enabled=False), {}, "partner_disabled"),
        ("document excluded", Partner(1), {"excluded": True}, "excluded"),
        ("payment blocked", Partner(1), {"blocked": True}, "blocked"),
    )

    def test_exclusion_reasons(self):
        for name, partner, flags, reason in self.ROWS:
            for rule in (SEQ, BOUNDS, PROG):
                with self.subTest(name, rule=rule):
                    items = [doc(1, **flags), doc(2, residual=-10.0, **flags)]
                    prm = params(rule, level=1 if rule == SEQ else None)
                    proposal = engine.propose(items, {1: partner}, prm)
                    self.assertEqual(reasons(proposal), {1: reason, 2: reason})

    def test_due_range_inclusive_positive_documents_only(self):
        items = [
            doc(1, due=july(1)),
            doc(2, due=july(2)),
            doc(3, due=july(5)),
            doc(4, due=july(6)),
            doc(5, due=july(1), residual=-20.0),
        ]
        prm = params(BOUNDS, due_from=july(2), due_to=july(5))
        proposal = engine.propose(items, {}, prm)
        self.assertEqual(proposed_ids(proposal), [2, 3])
        self.assertEqual(reasons(proposal), {1: "due_range", 4: "due_range"})
        self.assertEqual([c.id for c in proposal.groups[0].deductions], [5])


@tagged("post_install", "-at_install")
class TestEcheances(BaseCase):
    """An invoice of 1,000 on terms "30 % now, 70 % at 120 days": two échéances (items
    11 and 12 of document 1), each with its own due date, residual, level and date.
    Bounds: level 1 [1, 29], level 2 [30, 59], level 3 from 60 days late; as of 31
    July. Odoo's due date of the invoice is the last instalment's: the engine counts
    days late per échéance."""

    LEVELS = (Level(1, 1, 29), Level(2, 30, 59), Level(3, 60, 9999))
    AS_OF = july(31)

    # name, échéances: (residual, days late, level, days since its last reminder),
    # rule, expected outcome per échéance (level or skip reason), group total
    ROWS = (
        ("30 % late 60 days, 70 % not due (in 60 days): the 30 % at level 3",
         [(300.0, 60, 0, None), (700.0, -60, 0, None)], BOUNDS, [3, "not_due"], 300.0),
        ("30 % late 40 days, 70 % not due: level 2 by bounds",
         [(300.0, 40, 0, None), (700.0, -80, 0, None)], BOUNDS, [2, "not_due"], 300.0),
        ("both late: each its own level, one letter for both",
         [(300.0, 150, 0, None), (700.0, 30, 0, None)], BOUNDS, [3, 2], 1000.0),
        ("30 % paid (no longer open): the 70 % alone",
         [(700.0, 10, 0, None)], BOUNDS, [1], 700.0),
        ("30 % partly paid, 100 left: its residual is dunned",
         [(100.0, 35, 0, None), (700.0, -85, 0, None)], BOUNDS, [2, "not_due"], 100.0),
        ("30 % at level 2, dunned again at level 2? already; the 70 % gets its first",
         [(300.0, 45, 2, 10), (700.0, 5, 0, None)], BOUNDS, ["already_dunned", 1], 700.0),
        ("30 % at the top level 10 days ago: too recent; the 70 % moves on",
         [(300.0, 90, 3, 10), (700.0, 35, 1, 20)], BOUNDS, ["too_recent", 2], 700.0),
        ("30 % at the top level 30 days ago: repeated",
         [(300.0, 120, 3, 30), (700.0, -5, 0, None)], BOUNDS, [3, "not_due"], 300.0),
        ("progressive: each échéance one level at a time, from its own dates",
         [(300.0, 70, 1, 35), (700.0, 2, 0, None)], PROG, [2, 1], 1000.0),
        ("progressive: the 70 % not due yet",
         [(300.0, 70, 1, 35), (700.0, -1, 0, None)], PROG, [2, "not_due"], 300.0),
    )  # fmt: skip

    def _items(self, echeances, **flags):
        return [
            doc(
                11 + index,
                residual=residual,
                due=self.AS_OF - timedelta(days=late),
                level=level,
                last_date=since is not None and self.AS_OF - timedelta(days=since) or None,
                move_id=1,
                **flags,
            )
            for index, (residual, late, level, since) in enumerate(echeances)
        ]

    def test_rows(self):
        for name, echeances, rule, expected, total in self.ROWS:
            with self.subTest(name):
                items = self._items(echeances)
                prm = params(rule, self.AS_OF, self.LEVELS)
                proposal = engine.propose(items, {}, prm)
                (group,) = proposal.groups
                got = {p.item.id: p.level for p in group.proposed} | reasons(proposal)
                self.assertEqual([got[item.id] for item in items], expected)
                self.assertEqual(group.total, total)
                self.assertEqual(group.level, max(n for n in expected if isinstance(n, int)))
                self.assertEqual(
                    [p.days_late for p in group.proposed],
                    [e[1] for e, n in zip(echeances, expected, strict=True) if isinstance(n, int)],
                    "days late counted per échéance",
                )

    def test_document_exclusion_and_dispute_hold_for_every_echeance(self):
        late = [(300.0, 60, 0, None), (700.0, 10, 0, None)]
        for flags, reason in (({"excluded": True}, "excluded"), ({"blocked": True}, "blocked")):
            with self.subTest(reason):
                proposal = engine.propose(
                    self._items(late, **flags), {}, params(BOUNDS, self.AS_OF, self.LEVELS)
                )
                self.assertEqual(proposal.groups, ())
                self.assertEqual(reasons(proposal), {11: reason, 12: reason})

    def test_echeances_ordered_by_due_date_in_their_group(self):
        items = self._items([(700.0, 10, 0, None), (300.0, 60, 0, None)])
        proposal = engine.propose(items, {}, params(BOUNDS, self.AS_OF, self.LEVELS))
        self.assertEqual([p.item.id for p in proposal.groups[0].proposed], [12, 11])


@tagged("post_install", "-at_install")
class TestGrouping(BaseCase):
    """Deductions, currencies, ordering and the amount threshold."""

    def test_unticked_negative_group_like_eig(self):
        items = [doc(1, residual=44.0), doc(2, residual=-50.0)]
        group = engine.propose(items, {}, params(BOUNDS)).groups[0]
        self.assertEqual((group.total, group.selected), (-6.0, False))
        self.assertEqual([c.id for c in group.deductions], [2])

    def test_positive_group_selected(self):
        items = [doc(1, residual=50.0), doc(2, residual=-6.0)]
        group = engine.propose(items, {}, params(BOUNDS)).groups[0]
        self.assertEqual((group.total, group.selected), (44.0, True))

    def test_zero_total_unticked(self):
        items = [doc(1, residual=50.0), doc(2, residual=-50.0)]
        group = engine.propose(items, {}, params(BOUNDS)).groups[0]
        self.assertEqual((group.total, group.selected), (0.0, False))

    def test_small_and_zero_credits_are_deductions(self):
        items = [doc(1), doc(2, residual=-0.01), doc(3, residual=0.0)]
        group = engine.propose(items, {}, params(BOUNDS)).groups[0]
        self.assertEqual([c.id for c in group.deductions], [2, 3])

    def test_credit_without_proposed_document_nothing_to_dun(self):
        items = [doc(1, residual=-50.0), doc(2, due=date(2024, 8, 30))]
        proposal = engine.propose(items, {}, params(BOUNDS))
        self.assertEqual(proposal.groups, ())
        self.assertEqual(reasons(proposal), {1: "nothing_to_dun", 2: "not_due"})

    def test_min_amount_strictly_greater(self):
        items = [doc(1, residual=150.0), doc(2, residual=-50.0)]
        for min_amount, kept in ((100.0, False), (99.99, True), (None, True)):
            with self.subTest(min_amount=min_amount):
                prm = params(BOUNDS, min_amount=min_amount)
                proposal = engine.propose(items, {}, prm)
                self.assertEqual(len(proposal.groups), int(kept))
                expected = {} if kept else {1: "below_amount", 2: "below_amount"}
                self.assertEqual(reasons(proposal), expected)

    def test_currencies_kept_apart(self):
        items = [
            doc(1, currency=1, residual=100.0),
            doc(2, currency=2, residual=30.0),
            doc(3, currency=2, residual=-10.0),
            doc(4, currency=3, residual=-99.0),
        ]
        proposal = engine.propose(items, {}, params(BOUNDS))
        totals = {(g.partner_id, g.currency_id): g.total for g in proposal.groups}
        self.assertEqual(totals, {(1, 1): 100.0, (1, 2): 20.0})
        self.assertEqual(reasons(proposal), {4: "nothing_to_dun"})

    def test_ordering_and_group_level(self):
        items = [
            doc(5, partner=2, due=july(1)),
            doc(4, partner=1, currency=2),
            doc(3, partner=1, due=july(1), level=1),
            doc(2, partner=1, due=july(1)),
            doc(1, partner=1, due=july(6)),
        ]
        groups = engine.propose(items, {}, params(BOUNDS, july(20))).groups
        keys = [(g.partner_id, g.currency_id) for g in groups]
        self.assertEqual(keys, [(1, 1), (1, 2), (2, 1)])
        self.assertEqual([p.item.id for p in groups[0].proposed], [2, 3, 1])
        self.assertEqual(groups[0].level, 2)
        self.assertEqual(groups[0].proposed[0].days_late, 19)

    def test_total_rounded_fsum(self):
        items = [doc(i, residual=0.1) for i in range(10)] + [doc(10, residual=-0.3)]
        group = engine.propose(items, {}, params(BOUNDS)).groups[0]
        self.assertEqual(group.total, 0.7)


@tagged("post_install", "-at_install")
class TestValidation(BaseCase):
    ROWS = (
        ("unknown rule", {"rule": "random"}),
        ("unknown selection", {"rule": SEQ, "level": 1, "selection": "all"}),
        ("sequential without level", {"rule": SEQ}),
        ("level not configured", {"rule": BOUNDS, "level": 4}),
        ("no levels", {"rule": BOUNDS, "levels": ()}),
    )

    def test_bad_params_raise(self):
        for name, kw in self.ROWS:
            with self.subTest(name):
                prm = params(**kw)
                with self.assertRaises(ValueError):
                    engine.propose([doc()], {}, prm)
                with self.assertRaises(ValueError):
                    engine.level_for(doc(), prm)

    def test_days_between(self):
        self.assertEqual(engine.days_between(july(7), july(2)), -5)
        self.assertEqual(engine.days_between(july(7), date(2024, 8, 7)), 31)


@tagged("post_install", "-at_install")
class TestCheckLevels(BaseCase):
    def test_clean_configuration(self):
        for rule in (SEQ, BOUNDS, PROG):
            with self.subTest(rule):
                self.assertEqual(engine.check_levels(THREE, rule), [])

    ROWS = (
        ("number outside 1..5", (Level(0, 0, 5), Level(6, 6, 9)), PROG, 2),
        ("duplicate number", (Level(1, 0, 5), Level(1, 6, 9)), PROG, 1),
        ("lower greater than upper", (Level(1, 9, 5),), SEQ, 1),
        ("seed overlap L2/L3 fine for progressive", PROG_LEVELS, PROG, 0),
        ("seed overlap L2/L3 reported for bounds", PROG_LEVELS, BOUNDS, 1),
        ("touching bounds overlap", (Level(1, 0, 5), Level(2, 5, 9)), BOUNDS, 1),
        ("no levels", (), BOUNDS, 1),
    )

    def test_problems(self):
        for name, levels, rule, count in self.ROWS:
            with self.subTest(name):
                problems = engine.check_levels(iter(levels), rule)
                self.assertEqual(len(problems), count, problems)
                self.assertTrue(all(isinstance(p, str) for p in problems))

    def test_unknown_rule(self):
        with self.assertRaises(ValueError):
            engine.check_levels(THREE, "random")


# --- hypothesis properties ----------------------------------------------------

FAST = settings(max_examples=200, deadline=None)


def days_from_due(low, high):
    return st.integers(low, high).map(lambda n: DUE + timedelta(n))


offsets = days_from_due(-90, 30)
rare = st.sampled_from([False] * 9 + [True])  # True 1 time in 10
credit_or_invoice = st.sampled_from([1, 1, 1, -1])  # 1 credit item in 4
residuals = st.builds(
    lambda sign, cents: sign * cents / 100, credit_or_invoice, st.integers(1, 50_000)
)
dun_levels = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5])  # mostly early levels


@st.composite
def level_sets(draw):
    numbers = draw(st.sets(st.integers(1, 5), min_size=1))
    bounds = [(draw(st.integers(-10, 40)), draw(st.integers(0, 30))) for _ in numbers]
    return tuple(Level(n, lo, lo + w) for n, (lo, w) in zip(numbers, bounds, strict=True))


@st.composite
def ladders(draw):
    """Bounds increasing with the level number, no overlap, gaps allowed."""
    levels, start = [], draw(st.integers(-10, 10))
    for number in sorted(draw(st.sets(st.integers(1, 5), min_size=1))):
        lower = start + draw(st.integers(0, 5))
        start = lower + draw(st.integers(0, 20))
        levels.append(Level(number, lower, start))
        start += 1
    return tuple(levels)


def _numbered(raw_items):
    return [Item(i, *fields) for i, fields in enumerate(raw_items)]


items = st.lists(
    st.tuples(
        st.integers(1, 3),  # partner_id
        st.integers(1, 2),  # currency_id
        offsets,  # due_date
        residuals,  # residual
        dun_levels,  # level
        st.none() | offsets,  # last_date
        rare,  # excluded
        rare,  # blocked
    ),
    max_size=12,
).map(_numbered)


@st.composite
def partner_maps(draw):
    ids = draw(st.sets(st.integers(1, 3)))
    return {
        pid: Partner(
            pid,
            level=draw(dun_levels),
            last_date=draw(st.none() | offsets),
            enabled=not draw(rare),
            excluded=draw(rare),
        )
        for pid in ids
    }


@st.composite
def param_sets(draw, rule=None):
    rule = rule or draw(st.sampled_from([SEQ, BOUNDS, PROG]))
    levels = draw(level_sets())
    numbers = sorted(lv.number for lv in levels)
    asked = st.sampled_from(numbers)
    return Params(
        as_of=draw(days_from_due(0, 120)),
        rule=rule,
        levels=levels,
        level=draw(asked if rule == SEQ else st.none() | asked),
        selection=draw(st.sampled_from(["never", "previous", "lower"])),
        min_amount=draw(st.sampled_from([None, None, 0.0, 50.0])),
        repeat_days=draw(st.integers(0, 60)),
        due_from=draw(st.none() | days_from_due(-100, -30)),
        due_to=draw(st.none() | days_from_due(0, 40)),
    )


@tagged("post_install", "-at_install")
class TestProperties(BaseCase):
    """(a), (d) and (e) share one generated case each: generation dominates the time."""

    @FAST
    @given(items, partner_maps(), param_sets())
    def test_ade_propose_invariants(self, its, partners, prm):
        proposal = engine.propose(its, partners, prm)
        self.check_a_level_rises_except_top_repeat(proposal, prm)
        self.check_d_group_totals(proposal, prm)
        self.check_e_every_item_exactly_once(proposal, its)

    def check_a_level_rises_except_top_repeat(self, proposal, prm):
        top = max(lv.number for lv in prm.levels)
        for p in all_proposed(proposal):
            if p.repeat:
                self.assertEqual((p.level, p.item.level), (top, top))
            else:
                self.assertGreater(p.level, p.item.level)

    def check_d_group_totals(self, proposal, prm):
        for g in proposal.groups:
            amounts = [i.residual for i in group_items(g)]
            self.assertEqual(g.total, round(math.fsum(amounts), 2))
            self.assertEqual(g.level, max(p.level for p in g.proposed))
            self.assertEqual(g.selected, g.total > 0)
            if prm.min_amount is not None:
                self.assertGreater(g.total, prm.min_amount)
            keys = {(i.partner_id, i.currency_id) for i in group_items(g)}
            self.assertEqual(keys, {(g.partner_id, g.currency_id)})
            self.assertTrue(all(p.item.residual > 0 for p in g.proposed))
            self.assertTrue(all(c.residual <= 0 for c in g.deductions))

    def check_e_every_item_exactly_once(self, proposal, its):
        seen = [i.id for g in proposal.groups for i in group_items(g)]
        seen += [s.item_id for s in proposal.skipped]
        self.assertEqual(Counter(seen), Counter(i.id for i in its))
        self.assertTrue(all(s.reason in engine.REASONS for s in proposal.skipped))

    @FAST
    @given(items, partner_maps(), param_sets(PROG))
    def test_b_progressive_never_skips(self, its, partners, prm):
        numbers = [lv.number for lv in prm.levels]
        for p in all_proposed(engine.propose(its, partners, prm)):
            if not p.repeat:
                self.assertEqual(p.level, min(n for n in numbers if n > p.item.level))

    @FAST
    @given(ladders())
    def test_c_bounds_monotonic_in_days(self, levels):
        reached = 0
        for days in range(-20, 150):
            prm = Params(DUE + timedelta(days), BOUNDS, levels)
            level, _repeat, _reason = engine.level_for(doc(), prm)
            if level is not None:
                self.assertGreaterEqual(level, reached)
                reached = level


def all_proposed(proposal):
    return [p for g in proposal.groups for p in g.proposed]


def group_items(group):
    return [p.item for p in group.proposed] + list(group.deductions)
