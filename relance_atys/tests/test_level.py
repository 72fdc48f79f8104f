from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import RelanceCommon


@tagged("post_install", "-at_install")
class TestLevel(RelanceCommon):
    def test_number_between_1_and_5(self):
        for number in (0, 6):
            with self.subTest(number=number), self.assertRaises(ValidationError):
                self.env["relance.level"].create(self._level_vals(number, "Hors bornes", 50, 60))

    def test_number_unique_per_company(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            self.env["relance.level"].create(self._level_vals(1, "Doublon", 1, 15))
            self.env.flush_all()

    def test_subject_or_placeholders_not_both(self):
        with self.assertRaisesRegex(ValidationError, "not both"):
            self.levels[0].subject_template = "Relance {level} - {partner}"

    def test_unknown_placeholder(self):
        self.levels[0].mail_subject = False
        with self.assertRaisesRegex(ValidationError, "montant"):
            self.levels[0].subject_template = "Relance {montant}"

    def test_subject_from_placeholders(self):
        level = self.levels[1]
        level.write(
            {"mail_subject": False, "subject_template": "Relance {level} - {partner} - {documents}"}
        )
        partner = self._customer("Alpha SARL")
        self.assertEqual(
            level._subject(partner, ["FAC/1", "FAC/2"], None),
            "Relance 2 - Alpha SARL - FAC/1, FAC/2",
        )

    def test_overlapping_bounds_refused_under_bounds_rule(self):
        with self.assertRaisesRegex(ValidationError, "overlap"):
            self.levels[1].lower_bound = 10

    def test_overlapping_bounds_allowed_under_progressive_rule(self):
        """Seed 002's progressive example uses [6, 10] and [6, 99]."""
        self.company.relance_rule = "progressive"
        self.levels[1].write({"lower_bound": 6, "upper_bound": 10})
        self.levels[2].write({"lower_bound": 6, "upper_bound": 99})
        with self.assertRaisesRegex(ValidationError, "overlap"):
            self.company.relance_rule = "bounds"

    def test_lower_above_upper(self):
        with self.assertRaises(ValidationError):
            self.levels[0].write({"lower_bound": 20, "upper_bound": 10})

    def test_new_company_gets_default_levels(self):
        company = self.env["res.company"].create({"name": "Filiale Sud"})
        levels = self.env["relance.level"].search([("company_id", "=", company.id)])
        self.assertEqual(levels.mapped("number"), [1, 2, 3])
        self.assertTrue(all(levels.mapped("header")))

    def test_signature_thresholds_must_increase(self):
        with self.assertRaises(ValidationError):
            self.company.relance_sign_second_days = 20

    def test_settings_view(self):
        settings = self.env["res.config.settings"].create({"relance_rule": "progressive"})
        settings.execute()
        self.assertEqual(self.company.relance_rule, "progressive")
