"""The shipped texts of the dunning levels, given back to levels still as shipped.

``data/relance_level_data.xml`` is ``noupdate``: an upgrade never rewrites a level a
user may have edited. When the shipped texts change (18.0.1.1.1: levels 2 and 3 no
longer claim earlier reminders), a migration calls ``restore_shipped_texts``: a
level whose texts are still those of an earlier release (English, and each
installed language's translation) gets the current ones; an edited level is kept.
"""

import logging
import re
from pathlib import Path

from lxml import etree
from psycopg2.extras import Json

from odoo.tools.translate import TranslationImporter

_logger = logging.getLogger(__name__)

MODULE = "relance_atys"
DATA = Path(__file__).parent / "data" / "relance_level_data.xml"
I18N = Path(__file__).parent / "i18n"
TEXT_FIELDS = ("name", "mail_subject", "subject_template", "header", "footer")

# The texts of earlier releases, by level number, field and language: a level whose
# values all read as one of them was never edited.
EARLIER = {
    2: [
        {
            "name": {"en_US": "Second reminder", "fr_FR": "Deuxième relance"},
            "subject_template": {
                "en_US": "Second reminder - {partner} - {documents}",
                "fr_FR": "Deuxième relance - {partner} - {documents}",
            },
            "header": {
                "en_US": "Dear Sir or Madam, Despite our first reminder, the invoices listed "
                "below are still unpaid. We ask you to settle them within eight days of "
                "this letter.",
                "fr_FR": "Madame, Monsieur, Malgré notre premier rappel, les factures détaillées "
                "ci-dessous demeurent impayées. Nous vous demandons de bien vouloir en "
                "effectuer le règlement sous huit jours à compter de la date du présent "
                "courrier.",
            },
        },
        # 18.0.1.1.1 to 18.0.1.2.0: the warning of "a formal notice" read as untrue to a
        # customer already given formal notice about other invoices
        {
            "name": {
                "en_US": "Reminder before formal notice",
                "fr_FR": "Relance avant mise en demeure",
            },
            "subject_template": {
                "en_US": "Unpaid invoices - {partner} - {documents}",
                "fr_FR": "Factures impayées - {partner} - {documents}",
            },
            "header": {
                "en_US": "Dear Sir or Madam, The invoices listed below are still unpaid although "
                "their due date has passed. We ask you to settle them within eight days of "
                "this letter, failing which we will have to send you a formal notice to pay.",
                "fr_FR": "Madame, Monsieur, Les factures détaillées ci-dessous demeurent impayées "
                "alors que leur échéance est dépassée. Nous vous demandons de bien vouloir en "
                "effectuer le règlement sous huit jours à compter de la date du présent "
                "courrier, faute de quoi nous serons contraints de vous adresser une mise en "
                "demeure.",
            },
        },
    ],
    3: [
        {
            "header": {
                "en_US": "Dear Sir or Madam, Our previous reminders have remained unanswered. "
                "We hereby give you formal notice to pay the sum below within eight days "
                "of receipt of this letter.",
                "fr_FR": "Madame, Monsieur, Nos précédentes relances étant restées sans "
                "réponse, nous vous mettons en demeure, par la présente, de nous régler la "
                "somme indiquée ci-dessous dans un délai de huit jours à compter de la "
                "réception de ce courrier.",
            },
        }
    ],
}


def plain(value):
    """A text or an HTML value as words, for comparing: tags and spacing aside."""
    text = re.sub(r"<[^>]+>", " ", value or "")
    return " ".join(text.replace("\xa0", " ").split())


def shipped_values():
    """{level number: (xml id, {field: English value})} as the data file ships them."""
    shipped = {}
    for record in etree.parse(str(DATA)).iterfind("record"):
        values = {
            field.get("name"): field.text
            for field in record.iterfind("field")
            if field.get("name") in TEXT_FIELDS
        }
        number = int(record.find("field[@name='number']").text)
        shipped[number] = (f"{MODULE}.{record.get('id')}", values)
    return shipped


def _raw(env, level, fields):
    """The stored values of ``fields`` of ``level``, every language: {field: {lang: v}}."""
    env.flush_all()
    columns = ", ".join(f'"{field}"' for field in fields)
    env.cr.execute(f"SELECT {columns} FROM relance_level WHERE id = %s", [level.id])
    return dict(zip(fields, env.cr.fetchone(), strict=True))


def _as_shipped_earlier(env, level):
    """Whether every text of ``level`` reads as one earlier release shipped it."""
    for release in EARLIER.get(level.number, []):
        stored = _raw(env, level, list(release))
        if all(
            plain((stored[field] or {}).get(lang)) == plain(text)
            for field, texts in release.items()
            for lang, text in texts.items()
            if lang == "en_US" or (stored[field] or {}).get(lang)
        ):
            return True
    return False


def restore_shipped_texts(env):
    """Give the shipped texts to every level still as an earlier release shipped it.

    The shipped record of each level (the main company's) gets the data file's English
    and each installed language's translation from ``i18n/``; its copies in other
    companies get the same values. Returns (levels restored, levels kept as edited);
    a level that already reads as shipped now is in neither.
    """
    Level = env["relance.level"].sudo().with_context(active_test=False)
    restored = kept = Level.browse()
    shipped = shipped_values()
    for number in EARLIER:
        if number not in shipped:
            continue
        xmlid, values = shipped[number]
        template = env.ref(xmlid, raise_if_not_found=False)
        levels = Level.search([("number", "=", number)])
        untouched = levels.filtered(lambda level: _as_shipped_earlier(env, level))
        current = Level.browse(
            [level.id for level in levels if _as_shipped_now(env, level, values)]
        )
        kept |= levels - untouched - current
        if not untouched:
            continue
        if template and template in untouched:
            _restore_template(env, template.sudo(), values, xmlid)
        elif not template or not _as_shipped_now(env, template, values):
            kept |= untouched  # no pristine source to copy from
            continue
        copies = untouched - template
        if copies:
            fields = list(values)
            source = _raw(env, template, fields)
            for copy in copies:
                sets = ", ".join(f'"{field}" = %s' for field in fields)
                env.cr.execute(
                    f"UPDATE relance_level SET {sets} WHERE id = %s",
                    [*(_json(source[field]) for field in fields), copy.id],
                )
            copies.invalidate_recordset(fields)
        restored |= untouched
    return restored, kept


def migrate_level_texts(env):
    """A migration's step: restore the shipped texts (above) and log which levels were
    restored and which, edited by a user, were kept."""
    restored, kept = restore_shipped_texts(env)
    _logger.info(
        "relance_atys: level texts of %s restored to the shipped ones; %s edited, kept: %s",
        restored.mapped("display_name"),
        len(kept),
        kept.mapped("display_name"),
    )


def _as_shipped_now(env, template, values):
    stored = _raw(env, template, list(values))
    return all(
        plain((stored[field] or {}).get("en_US")) == plain(text) for field, text in values.items()
    )


def _restore_template(env, template, values, xmlid):
    """The shipped record: the data file's English, then each language's .po."""
    template.with_context(lang="en_US").write(
        {field: values.get(field) or False for field in TEXT_FIELDS if field in values}
    )
    langs = [code for code, _name in env["res.lang"].get_installed() if code != "en_US"]
    importer = TranslationImporter(env.cr, verbose=False)
    for lang in langs:
        for po in (I18N / f"{lang}.po", I18N / f"{lang.split('_')[0]}.po"):
            if po.exists():
                importer.load_file(str(po), lang, xmlids=[xmlid])
                break
    importer.save(overwrite=True, force_overwrite=True)


def _json(value):
    return Json(value) if value is not None else None
