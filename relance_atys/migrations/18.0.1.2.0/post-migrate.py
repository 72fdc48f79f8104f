"""18.0.1.2.0: dunning levels gain "Formal notice" (formal_notice); formal
notices compute the penalties and the 40 € indemnity the company claims.

* The levels that were formal notices before are marked: the default level 3
  and its copies in other companies (named "Formal notice" / "Mise en
  demeure"), and any level whose footer cites article L441-10.
* Their footer, when it still has the default sentence saying that penalties
  and the indemnity "will be due", loses that clause: the letter now states
  them computed, and only when the company claims them.
* The default level-2 footer's "please contact our accounts department" goes:
  the letter now names the contact (or the company's phone and email).
"""

import json

OLD_FOOTER = {
    "en_US": (
        "Failing payment within this time, we shall refer the matter for collection without "
        "further notice, and the late-payment penalties and the fixed indemnity of 40 euros for "
        "recovery costs (articles L441-10 and D441-5 of the French Commercial Code) will be due."
    ),
    "fr_FR": (
        "À défaut de règlement dans ce délai, nous transmettrons ce dossier au recouvrement sans "
        "autre préavis, et les pénalités de retard ainsi que l'indemnité forfaitaire de 40 euros "
        "pour frais de recouvrement (articles L441-10 et D441-5 du Code de commerce) seront "
        "exigibles."
    ),
}
NEW_FOOTER = {
    "en_US": (
        "Failing payment within this time, we shall refer the matter for collection without "
        "further notice."
    ),
    "fr_FR": (
        "À défaut de règlement dans ce délai, nous transmettrons ce dossier au recouvrement sans "
        "autre préavis."
    ),
}


CONTACT_SENTENCE = (
    "<p>Should you have any question about these invoices, please contact our accounts "
    "department.</p>",
    "<p>Pour toute question relative à ces factures, nous vous invitons à contacter notre "
    "service comptabilité.</p>",
)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE relance_level
           SET formal_notice = true
         WHERE lower(trim(name->>'en_US')) = 'formal notice'
            OR lower(trim(name->>'fr_FR')) = 'mise en demeure'
            OR footer::text LIKE '%%L441-10%%'
        """
    )
    cr.execute("SELECT id, footer FROM relance_level WHERE footer IS NOT NULL")
    for level_id, footer in cr.fetchall():
        new = {lang: _new_footer(text) for lang, text in footer.items()}
        if new != footer:
            cr.execute(
                "UPDATE relance_level SET footer = %s::jsonb WHERE id = %s",
                [json.dumps(new), level_id],
            )


def _new_footer(text):
    text = text.replace(OLD_FOOTER["en_US"], NEW_FOOTER["en_US"])
    text = text.replace(OLD_FOOTER["fr_FR"], NEW_FOOTER["fr_FR"])
    for sentence in CONTACT_SENTENCE:
        text = text.replace(sentence, "")
    return text
