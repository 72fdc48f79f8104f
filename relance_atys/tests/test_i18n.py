from pathlib import Path

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import PoFileReader, TranslationModuleReader

I18N = Path(__file__).parent.parent / "i18n"


@tagged("post_install", "-at_install")
class TestFrenchCatalog(TransactionCase):
    """French is read as Odoo reads it: ``fr.po`` merged with ``relance_atys.pot``.

    Odoo's reader (``PoFileReader``) takes each entry's places from the .pot and drops
    the entries of the .po that the .pot lacks. An entry added to ``fr.po`` alone is
    then never loaded: the run's "Queued" state and "Done with failures", the settings'
    "days", the background messages showed in English in a French interface.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.po_path = str(I18N / "fr.po")
        cls.loaded = {}  # msgid -> {(type, name, xml id)} as Odoo loads them
        for entry in PoFileReader(cls.po_path):
            if entry["value"]:
                place = (entry["type"], entry["name"], entry.get("imd_name"))
                cls.loaded.setdefault(entry["src"], set()).add(place)

    def test_every_french_entry_is_loaded(self):
        dropped = []
        for entry in polib.pofile(self.po_path):
            if not entry.msgstr or entry.obsolete:
                continue
            places = self.loaded.get(entry.msgid)
            if places is None:
                dropped.append(entry.msgid)
                continue
            for occurrence, _line in entry.occurrences:
                kind, _sep, rest = occurrence.partition(":")
                if kind in ("model", "model_terms"):
                    name, _sep, xmlid = rest.partition(":")
                    if (kind, name, xmlid.split(".", 1)[1]) not in places:
                        dropped.append(f"{entry.msgid} ({occurrence})")
        self.assertEqual(dropped, [], "fr.po entries the .pot lacks: Odoo never loads them")

    def test_every_term_has_its_french(self):
        """Every term of the installed addon (fields, selections, views, code,
        templates) has a French translation that Odoo loads."""
        ours = {
            model
            for model, cls in self.env.registry.items()
            if cls._original_module == "relance_atys"
        }
        missing = []
        reader = TranslationModuleReader(self.env.cr, modules=["relance_atys"], lang="fr_FR")
        for _module, kind, name, res_id, source, _value, _comments in reader:
            if (
                name == "ir.model,name"
                and res_id.split(".model_", 1)[1].replace("_", ".") not in ours
            ):
                continue  # an inherited model (ir.qweb, queue.job): its name is its module's
            places = self.loaded.get(source, set())
            # a view's term is translated view by view: "Discard" in the composer's
            # French left the promise dialog's "Discard" in English
            if kind == "model_terms" and isinstance(res_id, str):
                place = (kind, name, res_id.split(".", 1)[-1])
                if place not in places:
                    missing.append(f"{source} ({name} {res_id})")
            elif not places:
                missing.append(f"{source} ({name} {res_id})")
        self.assertEqual(missing, [], "terms shown in English to a French user")

    def test_run_states_in_french(self):
        """Each state and outcome of a run, in French, as the statusbar shows them."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["relance_atys"], ["fr_FR"], overwrite=True)
        for model, field in (("relance.run", "state"), ("relance.run.line", "outcome")):
            labels = dict(
                self.env[model].with_context(lang="fr_FR").fields_get([field])[field]["selection"]
            )
            english = dict(self.env[model].fields_get([field])[field]["selection"])
            same = [value for value in labels if labels[value] == english[value]]
            self.assertEqual(same, [], f"{model}.{field}: values left in English")
        run_states = dict(
            self.env["relance.run"]
            .with_context(lang="fr_FR")
            .fields_get(["state"])["state"]["selection"]
        )
        self.assertEqual(run_states["queued"], "En file d'attente")
        self.assertEqual(run_states["partial"], "Terminé avec des échecs")
