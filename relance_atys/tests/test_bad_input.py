"""Every wrong input of the README's table: a clear message in English and in
French, and nothing written (no run, no level, no mail)."""

from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TODAY, RelanceCommon, load_french

PIXEL = (  # a 1x1 PNG: a signature must be an image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@tagged("post_install", "-at_install")
class TestBadInput(RelanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)
        cls.customer = cls._customer("Client Erreurs", lang="fr_FR")
        cls.invoice = cls._invoice(cls.customer, 300.0, 20)
        cls.contact = cls.env["res.partner"].create(
            {"name": "Mme Erreurs", "parent_id": cls.customer.id, "email": "m@example.com"}
        )
        cls.other_invoice = cls._invoice(cls._customer("Client Voisin Erreurs"), 200.0, 20)
        cls.other_company = cls.env["res.company"].create({"name": "Autre Société"})
        cls.foreign = cls._customer("Client Étranger", company_id=cls.other_company.id)
        cls.foreign_level = cls.env["relance.level"].search(
            [("company_id", "=", cls.other_company.id)], limit=1
        )
        cls.user, cls.manager = (
            cls._new_dunning_user(
                f"dunning.only.{role}",
                role,
                company_id=cls.company.id,
                company_ids=[Command.set(cls.company.ids)],
            )
            for role in ("user", "manager")
        )
        cls.signed = cls.env["sale.order"].create(
            {"partner_id": cls.customer.id, "require_signature": True, "signature": PIXEL}
        )

    # -- the wrong inputs -------------------------------------------------------------

    def _edition(self, lang, **vals):
        return self.env["relance.edition"].with_context(lang=lang).create({"date": TODAY, **vals})

    def _manage(self, lang, **vals):
        vals = {"partner_id": self.customer.id, "new_level": 2, "date": TODAY, **vals}
        return self.env["relance.level.manage"].with_context(lang=lang).create(vals)

    def _composer(self, lang):
        action = self.env["relance.composer"].action_open_for_partner(self.customer)
        return self.env["relance.composer"].with_context(lang=lang).browse(action["res_id"])

    def _files(self, count, size):
        return self.env["ir.attachment"].create(
            [{"name": f"piece_{i}.pdf", "raw": b"%PDF" + b"0" * size} for i in range(count)]
        )

    def _cases(self):
        """(name, action(lang), English fragment, French fragment)."""
        day = timedelta(days=1)
        return [
            (
                "edition: inverted due dates",
                lambda lang: self._edition(
                    lang, due_from=TODAY, due_to=TODAY - day
                ).action_review(),
                "inverted",
                "inversée",
            ),
            (
                "edition: negative amount threshold",
                lambda lang: self._edition(lang, min_amount=-10).action_review(),
                "cannot be negative",
                "négatif",
            ),
            (
                "edition: sequential rule without level",
                lambda lang: self._sequential(lang).action_review(),
                "Choose the dunning level",
                "niveau de relance",
            ),
            (
                "edition: level of another company",
                lambda lang: self._edition(lang, level_id=self.foreign_level.id).action_review(),
                "another company",
                "autre société",
            ),
            (
                "edition: customer of another company",
                lambda lang: self._edition(
                    lang, partner_ids=[Command.set(self.foreign.ids)]
                ).action_review(),
                "another company",
                "autre société",
            ),
            (
                "edition: nothing to dun",
                lambda lang: self._edition(lang, date=TODAY - 900 * day).action_review(),
                "Nothing to dun",
                "Rien à relancer",
            ),
            (
                "edition: definitive dated before the customer's last dunning",
                lambda lang: self._dated_before(lang).action_print_definitive(),
                "before the last dunning",
                "antérieure à la dernière relance",
            ),
            (
                "edition: definitive by a dunning user",
                lambda lang: self._reviewed(lang, user=self.user).action_print_definitive(),
                "Only dunning managers",
                "responsables des relances",
            ),
            (
                "edition: letters with every customer unticked",
                lambda lang: self._unticked(lang).action_print_draft(),
                "No customer is ticked",
                "Aucun client",
            ),
            (
                "edition: definitive dated after today",
                lambda lang: self._reviewed(
                    lang, date=self._today() + day
                ).action_print_definitive(),
                "in the future",
                "dans le futur",
            ),
            (
                "edition: definitive dated beyond the days ahead allowed",
                lambda lang: self._ahead(lang, 3, 5).action_print_definitive(),
                "at most 3 day(s) after today",
                "au plus 3 jour(s) après aujourd'hui",
            ),
            (
                "edition: emails dated after today",
                lambda lang: self._reviewed(lang, date=self._today() + day).action_send_emails(),
                "in the future",
                "dans le futur",
            ),
            (
                "level: number 0",
                lambda lang: self._level(lang, number=0),
                "between 1 and 5",
                "entre 1 et 5",
            ),
            (
                "level: number 6",
                lambda lang: self._level(lang, number=6),
                "between 1 and 5",
                "entre 1 et 5",
            ),
            (
                "level: overlapping bounds",
                lambda lang: self.levels[1].with_context(lang=lang).write({"lower_bound": 10}),
                "overlap",
                "chevauch",
            ),
            (
                "level: lower bound above upper bound",
                lambda lang: (
                    self.levels[0]
                    .with_context(lang=lang)
                    .write({"lower_bound": 14, "upper_bound": 2})
                ),
                "greater than",
                "supérieure",
            ),
            (
                "level: a subject and a placeholder subject",
                lambda lang: (
                    self.levels[0]
                    .with_context(lang=lang)
                    .write({"subject_template": "Relance {level}"})
                ),
                "not both",
                "pas les deux",
            ),
            (
                "level: unknown placeholder",
                lambda lang: (
                    self.levels[0]
                    .with_context(lang=lang)
                    .write({"mail_subject": False, "subject_template": "Relance {montant}"})
                ),
                "Unknown placeholder",
                "inconnu",
            ),
            (
                "settings: signature thresholds not increasing",
                lambda lang: self.company.with_context(lang=lang).write(
                    {"relance_sign_second_days": 10}
                ),
                "must increase",
                "croissants",
            ),
            (
                "settings: negative repeat interval",
                lambda lang: self.company.with_context(lang=lang).write(
                    {"relance_repeat_days": -1}
                ),
                "cannot be negative",
                "négatif",
            ),
            (
                "level management: new level 6",
                lambda lang: self._manage(lang, new_level=6).action_consult(),
                "between 0 and 5",
                "entre 0 et 5",
            ),
            (
                "level management: nothing ticked",
                lambda lang: self._manage_modify(lang).action_validate(),
                "Tick the documents",
                "Cochez",
            ),
            (
                "level management: inverted dates",
                lambda lang: self._manage(
                    lang, date_from=TODAY, date_to=TODAY - day
                ).action_consult(),
                "inverted",
                "inversée",
            ),
            (
                "level management: date after today",
                lambda lang: self._manage(lang, date=self._today() + day).action_consult(),
                "in the future",
                "dans le futur",
            ),
            (
                "level management: customer of another company",
                lambda lang: self._manage(lang, partner_id=self.foreign.id).action_consult(),
                "belongs to the company",
                "appartient à la société",
            ),
            (
                "signature: inverted creation period",
                lambda lang: self._signature(
                    lang, date_from=TODAY, date_to=TODAY - day
                ).action_preview(),
                "inverted",
                "inversée",
            ),
            (
                "signature: a quotation already signed",
                lambda lang: self._signature(
                    lang, order_ids=[Command.set(self.signed.ids)]
                ).action_preview(),
                "do not wait for a signature",
                "signature",
            ),
            (
                "composer: an address that is not an email",
                lambda lang: self._composer_with(lang, email_to="compta-at-client").action_send(),
                "not valid",
                "pas valide",
            ),
            (
                "composer: 16 attachments",
                lambda lang: self._composer_with(
                    lang,
                    attach_invoices=False,
                    attachment_ids=[Command.set(self._files(16, 10).ids)],
                ).action_send(),
                "at most 15 files",
                "15 fichiers",
            ),
            (
                "composer: more than 15 MB",
                lambda lang: self._composer_with(
                    lang,
                    attach_invoices=False,
                    attachment_ids=[Command.set(self._files(2, 8 * 1024 * 1024).ids)],
                ).action_send(),
                "at most 15 MB",
                "15 Mo",
            ),
            (
                "history: cancel a run another run followed",
                lambda lang: self._two_runs()[0].with_context(lang=lang).action_cancel(),
                "cannot be cancelled",
                "ne peut pas être annulé",
            ),
            (
                "invoice: a level written directly",
                lambda lang: (
                    self.invoice.with_user(self.user)
                    .with_context(lang=lang)
                    .write({"relance_level": 3})
                ),
                "set by the dunning runs only",
                "fixés que par les passages de relance",
            ),
            (
                "invoice: excluded by a dunning user",
                lambda lang: (
                    self.invoice.with_user(self.user)
                    .with_context(lang=lang)
                    .write({"relance_excluded": True})
                ),
                "Only dunning managers can exclude",
                "Seuls les responsables des relances peuvent exclure",
            ),
            (
                "edition: a company that is not the user's",
                lambda lang: self._user_edition(lang, company_id=self.other_company.id),
                "not among your current companies",
                "ne fait pas partie de vos sociétés",
            ),
            (
                "edition: a customer the user cannot see",
                lambda lang: self._user_edition(
                    lang, partner_ids=[Command.set(self.foreign.ids)]
                ).action_review(),
                "not visible to you",
                "ne vous sont pas visibles",
            ),
            (
                "edition: a letter template that is not one",
                lambda lang: self._edition(lang, template_key="web.login").action_review(),
                "not a dunning letter template",
                "n'est pas un modèle de courrier de relance",
            ),
            (
                "edition: a document line moved to another customer's line",
                lambda lang: self._line_moved(lang),
                "must belong to its customer's line",
                "doit appartenir à la ligne de son client",
            ),
            (
                "composer: written to a contact, not the customer",
                lambda lang: self._composer_with(lang, partner_id=self.contact.id).action_send(),
                "is a contact of",
                "est un contact de",
            ),
            (
                "composer: a customer as sender",
                lambda lang: self._composer_with(lang, sender_id=self.foreign.id).action_send(),
                "cannot send this reminder",
                "ne peut pas envoyer cette relance",
            ),
            (
                "composer: a mail template of another kind",
                lambda lang: self._composer_with(
                    lang, template_id=self.env.ref("account.email_template_edi_invoice").id
                ),
                "not a customer reminder",
                "n'est pas une relance client",
            ),
            (
                "composer: a document that changed since it was opened",
                lambda lang: self._composer_changed(lang).action_send(),
                "changed since the reminder was opened",
                "ont changé depuis l'ouverture",
            ),
            (
                "composer: a document of another customer",
                lambda lang: self._composer(lang).line_ids.write(
                    {"move_id": self.other_invoice.id}
                ),
                "not open items of this customer",
                "ne sont pas des pièces ouvertes de ce client",
            ),
            (
                "signature: a preview line of another customer",
                lambda lang: self._signature(lang).write(
                    {
                        "line_ids": [
                            Command.create(
                                {"order_id": self.signed.id, "partner_id": self.foreign.id}
                            )
                        ]
                    }
                ),
                "preview line must show a quotation",
                "ligne d'aperçu doit montrer un devis",
            ),
            (
                "level: a mail template of another kind",
                lambda lang: (
                    self.levels[0]
                    .with_context(lang=lang)
                    .write(
                        {"mail_template_id": self.env.ref("account.email_template_edi_invoice").id}
                    )
                ),
                "not a dunning mail to customers",
                "n'est pas un email de relance aux clients",
            ),
            (
                "history: a run line's level before changed by hand",
                lambda lang: (
                    self._two_runs()[0]
                    .line_ids.with_user(self.manager)
                    .with_context(lang=lang)
                    .write({"level_before": 5})
                ),
                "written by the dunning runs only",
                "n'est écrit que par les passages de relance",
            ),
        ]

    # -- helpers for the cases ---------------------------------------------------------

    def _sequential(self, lang):
        self.company.relance_rule = "sequential"
        return self._edition(lang)

    def _reviewed(self, lang, user=None, **vals):
        edition = self.env["relance.edition"].with_user(user or self.env.user)
        wizard = edition.with_context(lang=lang).create({"date": TODAY, "definitive": True, **vals})
        wizard.action_review()
        return wizard

    def _dated_before(self, lang):
        self.customer.with_company(self.company).sudo().write(
            {"relance_level": 1, "relance_date": TODAY + timedelta(days=2)}
        )
        return self._reviewed(lang)

    def _today(self):
        return fields.Date.context_today(self.env.user)

    def _ahead(self, lang, allowed, days):
        """A definitive edition dated ``days`` ahead, ``allowed`` days being allowed."""
        self.company.relance_future_days = allowed
        return self._reviewed(lang, date=self._today() + timedelta(days=days))

    def _unticked(self, lang):
        wizard = self._reviewed(lang)
        wizard.partner_line_ids.write({"selected": False})
        return wizard

    def _level(self, lang, **vals):
        return (
            self.env["relance.level"]
            .with_context(lang=lang)
            .create(self._level_vals(vals.pop("number"), "Niveau", 500, 600) | vals)
        )

    def _manage_modify(self, lang):
        wizard = self._manage(lang)
        wizard.action_consult()
        wizard.action_modify()
        wizard.line_ids.write({"selected": False})
        return wizard

    def _signature(self, lang, **vals):
        return self.env["relance.signature"].with_context(lang=lang).create(vals)

    def _composer_with(self, lang, **vals):
        composer = self._composer(lang)
        composer.write(vals)
        return composer

    def _user_edition(self, lang, **vals):
        Edition = self.env["relance.edition"].with_user(self.user).with_context(lang=lang)
        return Edition.create({"date": TODAY, **vals})

    def _line_moved(self, lang):
        plines = self._reviewed(lang).partner_line_ids
        mine = plines.filtered(lambda pline: pline.partner_id == self.customer)
        other = plines.filtered(lambda pline: pline.partner_id == self.other_invoice.partner_id)
        mine.line_ids.write({"partner_line_id": other.id})

    def _composer_changed(self, lang):
        composer = self._composer(lang)
        composer.line_ids.write({"level_before": 2})
        return composer

    def _two_runs(self):
        first = self._reviewed("en_US")
        first.action_print_definitive()
        self.invoice.sudo().relance_level = 1  # as if dunned at level 1, then again later
        second = self._reviewed("en_US", date=TODAY + timedelta(days=20))
        second.action_print_definitive()
        return self.env["relance.run"].search([], order="id")

    # -- the test ------------------------------------------------------------------

    def _state(self):
        """What must not move: runs, mails, levels and dates."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT (SELECT count(*) FROM relance_run), (SELECT count(*) FROM mail_mail),"
            " (SELECT array_agg((id, relance_level, relance_date) ORDER BY id)"
            "    FROM account_move WHERE company_id = %s)",
            [self.company.id],
        )
        return self.env.cr.fetchone()

    def test_every_wrong_input(self):
        cases = self._cases()
        self.assertGreaterEqual(len(cases), 20)
        for name, action, english, french in cases:
            for lang, fragment in (("en_US", english), ("fr_FR", french)):
                with self.subTest(case=name, lang=lang):
                    with self.env.cr.savepoint(flush=False) as savepoint:
                        before = self._state()
                        with self.assertRaises(UserError) as caught:  # ValidationError too
                            action(lang)
                            self.env.flush_all()
                        message = str(caught.exception)
                        self.assertIn(fragment.lower(), message.lower(), message)
                        if name.startswith("history"):
                            savepoint.rollback()  # its two runs were the set-up
                            continue
                        self.assertEqual(self._state(), before, "nothing written")
                        savepoint.rollback()
                    self.env.invalidate_all()
