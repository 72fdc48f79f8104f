"""Levels 2 and 3 as shipped up to 18.0.1.1.0 claimed reminders a customer may never
have had ("Despite our first reminder", "Our previous reminders have remained
unanswered"): under the bounds rule a level-2 or level-3 letter can be the first.

Their records are ``noupdate``: an upgrade keeps their old texts, and
``--i18n-overwrite`` does not help either, since the header's French is translated
term by term from its English, which the upgrade did not change. This gives the
shipped texts (English and their translations) to every level that still reads as
shipped, in every company (new companies get copies of the levels); a level whose
texts were edited is left as it is, with a line in the log.
"""

from odoo import SUPERUSER_ID, api

from odoo.addons.relance_atys.level_texts import migrate_level_texts


def migrate(cr, version):
    migrate_level_texts(api.Environment(cr, SUPERUSER_ID, {}))
