"""18.0.1.2.0: dunning levels gain "Formal notice" (formal_notice).

The levels that were formal notices before (the default level 3 and its copies
in other companies, or any level named so) are marked, so that their letters
keep citing the penalties, now computed.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE relance_level
           SET formal_notice = true
         WHERE name->>'en_US' ILIKE '%%formal notice%%'
            OR name->>'fr_FR' ILIKE '%%mise en demeure%%'
        """
    )
