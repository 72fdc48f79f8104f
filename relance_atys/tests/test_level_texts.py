import importlib.util
from pathlib import Path

from psycopg2.extras import Json

from odoo.tests import TransactionCase, tagged

from ..level_texts import EARLIER, plain, restore_shipped_texts

MIGRATION = Path(__file__).parent.parent / "migrations" / "18.0.1.1.1" / "post-migrate.py"
MIGRATION_2 = Path(__file__).parent.parent / "migrations" / "18.0.2.0.0" / "post-level-texts.py"


@tagged("post_install", "-at_install")
class TestShippedLevelTexts(TransactionCase):
    """An upgraded database keeps its levels (``noupdate``) and ``--i18n-overwrite``
    cannot translate a header whose English did not change: the 18.0.1.1.1 migration
    gives the shipped texts to the levels still as an earlier release shipped them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(["relance_atys"], ["fr_FR"])
        cls.level_2 = cls.env.ref("relance_atys.relance_level_2")
        cls.level_3 = cls.env.ref("relance_atys.relance_level_3")
        cls.other = cls.env["res.company"].create({"name": "Autre société relances"})
        cls.copy_2 = cls.env["relance.level"].search(
            [("company_id", "=", cls.other.id), ("number", "=", 2)]
        )

    def _as_before(self, level, release):
        """``level`` as an upgraded database holds it: the earlier texts, raw."""
        self.env.flush_all()
        for field, texts in release.items():
            value = dict(texts)
            if field == "header":
                value = {lang: f"<p>{text}</p>" for lang, text in texts.items()}
            self.env.cr.execute(
                f'UPDATE relance_level SET "{field}" = %s WHERE id = %s', [Json(value), level.id]
            )
        level.invalidate_recordset()

    def _text(self, level, field, lang):
        return plain(level.with_context(lang=lang)[field])

    def test_untouched_levels_get_the_shipped_texts_in_every_company(self):
        self.assertTrue(self.copy_2, "a new company gets copies of the levels")
        for level in (self.level_2, self.copy_2):
            self._as_before(level, EARLIER[2][0])
        self.assertIn("Despite our first reminder", self._text(self.copy_2, "header", "en_US"))
        restored, _kept = restore_shipped_texts(self.env)
        self.assertIn(self.level_2, restored)
        self.assertIn(self.copy_2, restored)
        for level in (self.level_2, self.copy_2):
            header_en = self._text(level, "header", "en_US")
            header_fr = self._text(level, "header", "fr_FR")
            self.assertNotIn("Despite", header_en)
            self.assertIn(
                "failing which we will have to give you formal notice to pay them", header_en
            )
            self.assertNotIn("Malgré notre premier rappel", header_fr)
            self.assertIn("faute de quoi", header_fr)
            self.assertEqual(level.with_context(lang="fr_FR").name, "Relance avant mise en demeure")
            self.assertEqual(level.with_context(lang="en_US").name, "Reminder before formal notice")
            self.assertEqual(
                level.with_context(lang="fr_FR").subject_template,
                "Factures impayées - {partner} - {documents}",
            )

    def test_an_edited_level_is_kept(self):
        self._as_before(self.level_3, EARLIER[3][0])
        edited = "<p>Madame, Monsieur,</p><p>Notre texte à nous.</p>"
        self.level_3.with_context(lang="fr_FR").header = edited
        restored, kept = restore_shipped_texts(self.env)
        self.assertNotIn(self.level_3, restored)
        self.assertIn(self.level_3, kept)
        self.assertNotIn(self.level_2, kept, "as shipped now: neither restored nor edited")
        self.assertNotIn(self.level_2, restored)
        self.assertEqual(self._text(self.level_3, "header", "fr_FR"), plain(edited))

    def test_the_migration_runs_it(self):
        self._as_before(self.level_3, EARLIER[3][0])
        spec = importlib.util.spec_from_file_location("relance_post_migrate", MIGRATION)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.1.0")
        header_fr = self._text(self.level_3, "header", "fr_FR")
        self.assertNotIn("Nos précédentes relances", header_fr)
        self.assertIn("nous vous mettons en demeure", header_fr)

    def test_the_level_2_warning_of_18_0_1_1_1_is_restored(self):
        """A customer already given formal notice about other invoices read "failing which
        we will have to send you a formal notice": the warning is now about these invoices."""
        self._as_before(self.level_2, EARLIER[2][1])
        self.assertIn("adresser une mise en demeure", self._text(self.level_2, "header", "fr_FR"))
        spec = importlib.util.spec_from_file_location("relance_post_level_texts", MIGRATION_2)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.2.0")
        self.assertIn(
            "faute de quoi nous serons contraints de vous mettre en demeure de les régler",
            self._text(self.level_2, "header", "fr_FR"),
        )
        self.assertIn(
            "give you formal notice to pay them", self._text(self.level_2, "header", "en_US")
        )
