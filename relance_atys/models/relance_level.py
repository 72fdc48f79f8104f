import string

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from .. import engine

# Placeholders a level's subject may be built from (Akuiteo "mot-clé").
SUBJECT_PLACEHOLDERS = {
    "partner": "customer name",
    "ref": "customer reference",
    "documents": "document numbers",
    "level": "dunning level",
    "company": "your company",
    "date": "dunning date",
}

CALL_STEPS = [
    (engine.CALL_NONE, "No call"),
    (engine.CALL_ALSO, "A call besides the letter or mail"),
    (engine.CALL_ONLY, "A call instead of the letter or mail"),
]


class RelanceLevel(models.Model):
    _name = "relance.level"
    _description = "Dunning level"
    _order = "company_id, number"

    name = fields.Char(required=True, translate=True)
    number = fields.Integer(
        required=True, aggregator=False, help="1 = first reminder ... 5 = most severe."
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    lower_bound = fields.Integer(
        string="Lower bound (days)",
        aggregator=False,
        help="Days past the due date from which this level applies; "
        "negative for a notice before the due date.",
    )
    upper_bound = fields.Integer(string="Upper bound (days)", default=15, aggregator=False)
    header = fields.Html(string="Letter header", translate=True, sanitize_style=True)
    footer = fields.Html(string="Letter footer", translate=True, sanitize_style=True)
    mail_subject = fields.Char(string="Mail subject", translate=True)
    subject_template = fields.Char(
        string="Subject from placeholders",
        translate=True,
        help="Built subject, e.g. 'Relance {level} - {partner} - {documents}'. "
        "Placeholders: " + ", ".join(f"{{{k}}}" for k in SUBJECT_PLACEHOLDERS),
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Mail template",
        domain="[('model', '=', 'res.partner')]",
    )
    formal_notice = fields.Boolean(
        string="Formal notice",
        help="A formal notice to pay (mise en demeure), sent by registered letter with "
        "acknowledgement of receipt: its letters compute and claim the late-payment "
        "penalties and the recovery indemnity the company's settings turn on.",
    )
    show_payment = fields.Boolean(
        string="Payment details",
        default=True,
        help="The letter tells how to pay: the company's bank account (IBAN, BIC, bank), "
        "the payment methods accepted and the reference to quote.",
    )
    contact_id = fields.Many2one(
        "res.users",
        string="Contact for questions",
        help="Named on the letter; empty: the company's (Settings > Dunning).",
    )
    signatory_id = fields.Many2one(
        "res.users", help="Signs the letter; empty: the company's (Settings > Dunning)."
    )
    call_step = fields.Selection(
        CALL_STEPS,
        string="Phone call",
        default=engine.CALL_NONE,
        required=True,
        help="A call instead of the letter records the level when the calls are planned; "
        "a call besides it only plans the call. The call goes to the customer's collector.",
    )
    call_script = fields.Html(
        string="Call script", translate=True, help="What the collector says on the phone."
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "number_company_uniq",
            "unique(company_id, number)",
            "A company has one dunning level per number.",
        ),
    ]

    @api.depends("number", "name")
    def _compute_display_name(self):
        for level in self:
            level.display_name = f"{level.number} - {level.name}"

    @api.constrains("mail_template_id")
    def _check_mail_template(self):
        """A dunning mail template written to customers: the cron renders it on them."""
        for level in self:
            template = level.mail_template_id.sudo()
            if template and (template.model != "res.partner" or template.relance_type != "dunning"):
                raise ValidationError(
                    self.env._(
                        "Level %(level)s: the mail template %(template)s is not a dunning "
                        "mail to customers.",
                        level=level.number,
                        template=template.display_name,
                    )
                )

    @api.constrains("number")
    def _check_number(self):
        for level in self:
            if not engine.MIN_LEVEL <= level.number <= engine.MAX_LEVEL:
                raise ValidationError(
                    self.env._(
                        "Level %(number)s: the number must be between %(min)s and %(max)s.",
                        number=level.number,
                        min=engine.MIN_LEVEL,
                        max=engine.MAX_LEVEL,
                    )
                )

    @api.constrains("lower_bound", "upper_bound", "company_id", "active")
    def _check_bounds(self):
        for company in self.company_id:
            levels = self.search([("company_id", "=", company.id)])
            problems = [
                self._problem_text(code, values)
                for code, values in engine.level_problems(levels._to_engine(), company.relance_rule)
            ]
            if problems:
                raise ValidationError(
                    self.env._(
                        "Dunning levels of %(company)s: %(problems)s",
                        company=company.name,
                        problems="; ".join(problems),
                    )
                )

    def _problem_text(self, code, values):
        """engine.PROBLEMS, translated."""
        _ = self.env._
        if code == "none":
            return _("No dunning level is configured.")
        if code == "number":
            return _("Level %(number)s: the number must be between %(min)s and %(max)s.", **values)
        if code == "duplicate":
            return _("Level %(number)s is defined %(count)s times.", **values)
        if code == "bounds":
            return _(
                "Level %(number)s: lower bound %(lower)s is greater than upper bound %(upper)s.",
                **values,
            )
        return _(
            "Levels %(a)s and %(b)s have overlapping bounds "
            "([%(a_lower)s, %(a_upper)s] and [%(b_lower)s, %(b_upper)s]).",
            **values,
        )

    @api.constrains("mail_subject", "subject_template")
    def _check_subject(self):
        for level in self:
            if level.mail_subject and level.subject_template:
                raise ValidationError(
                    self.env._(
                        "Level %s: give either a mail subject or a subject built from "
                        "placeholders, not both.",
                        level.number,
                    )
                )
            level._check_placeholders(level.subject_template or "")

    def _check_placeholders(self, pattern):
        try:
            names = {f for _t, f, _s, _c in string.Formatter().parse(pattern) if f is not None}
        except ValueError as err:
            raise ValidationError(
                self.env._(
                    "Subject '%(subject)s' is malformed: %(error)s", subject=pattern, error=err
                )
            ) from err
        unknown = names - set(SUBJECT_PLACEHOLDERS)
        if unknown:
            raise ValidationError(
                self.env._(
                    "Unknown placeholder(s) %(unknown)s in the subject. Known: %(known)s.",
                    unknown=", ".join(sorted(unknown)),
                    known=", ".join(f"{{{k}}}" for k in SUBJECT_PLACEHOLDERS),
                )
            )

    def _letter_contact(self):
        """Who the customer may call: the level's contact, else the company's."""
        self.ensure_one()
        return self.contact_id or self.company_id.relance_contact_id

    def _letter_signatory(self):
        """Who signs: the level's signatory, else the company's."""
        self.ensure_one()
        return self.signatory_id or self.company_id.relance_signatory_id

    def _to_engine(self):
        return tuple(engine.Level(lv.number, lv.lower_bound, lv.upper_bound) for lv in self)

    def _subject(self, partner, documents, date):
        """The subject of a mail or letter of this level for ``partner``."""
        self.ensure_one()
        if self.mail_subject:
            return self.mail_subject
        values = {
            "partner": partner.name or "",
            "ref": partner.ref or "",
            "documents": ", ".join(documents),
            "level": self.number,
            "company": self.company_id.name,
            "date": format_date(self.env, date) if date else "",
        }
        if self.subject_template:
            return self.subject_template.format(**values)
        return self.name
