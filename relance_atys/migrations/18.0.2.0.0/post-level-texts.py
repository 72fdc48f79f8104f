"""Level 2 as shipped from 18.0.1.1.1 warned "failing which we will have to send you a
formal notice to pay": read as untrue by a customer already given formal notice about
other invoices. It now says "give you formal notice to pay them" (these invoices).

The levels are ``noupdate``: this gives the shipped texts to every level still as an
earlier release shipped it, as the 18.0.1.1.1 migration does (``level_texts``); a
level whose texts were edited is kept, and named in the log.
"""

from odoo import SUPERUSER_ID, api

from odoo.addons.relance_atys.level_texts import migrate_level_texts


def migrate(cr, version):
    migrate_level_texts(api.Environment(cr, SUPERUSER_ID, {}))
