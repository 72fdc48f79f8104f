"""Level 2 as shipped from 18.0.1.1.1 warned "failing which we will have to send you a
formal notice to pay": read as untrue by a customer already given formal notice about
other invoices. It now says "give you formal notice to pay them" (these invoices).

The levels are ``noupdate``: this gives the shipped texts to every level still as an
earlier release shipped it, as the 18.0.1.1.1 migration does (``level_texts``); a
level whose texts were edited is kept, and named in the log.
"""

import logging

from odoo import SUPERUSER_ID, api

from odoo.addons.relance_atys.level_texts import restore_shipped_texts

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    restored, kept = restore_shipped_texts(env)
    _logger.info(
        "relance_atys: level texts of %s restored to the shipped ones; %s edited, kept: %s",
        restored.mapped("display_name"),
        len(kept),
        kept.mapped("display_name"),
    )
