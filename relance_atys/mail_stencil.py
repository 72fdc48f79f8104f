"""A mail layout rendered once for many mails alike, then filled for each.

Odoo renders its notification layout (``mail.mail_notification_layout``) in
QWeb for every mail, with the recipient classified and the access link signed
for each: most of the time of a run of thousands of signature reminders. The
mails of quotations alike (same language, company, salesperson, kind of
recipient and button) differ only by a few texts: the message body and its
preview, the quotation's name and subtitles, the access link. A stencil is
the layout rendered once with a marker in place of each of these texts; each
mail is the stencil with its own texts put in, escaped as QWeb escapes them.
"""

import re
import uuid

from markupsafe import Markup, escape


class MarkedMessage:
    """A message as the layout reads it, with markers for its body and preview."""

    def __init__(self, message, body, preview):
        self._message, self.body, self.preview = message, body, preview

    def __getattr__(self, name):
        return getattr(self._message, name)


class Stencil:
    """Markers named for what they stand for, and the layout rendered with them."""

    def __init__(self, subtitles):
        token = uuid.uuid4().hex
        names = ["body", "preview", "record_name", "url"]
        names += [f"subtitle{index}" for index in range(subtitles)]
        self.markers = {name: f"relance{token}{name}" for name in names}
        self.html = ""
        self._pattern = re.compile("|".join(self.markers.values()))

    def marked_values(self, message, render_values):
        """``render_values`` of the layout with markers for the texts of each mail."""
        marker = self.markers
        subtitles = [marker[f"subtitle{index}"] for index in range(len(render_values["subtitles"]))]
        return {
            **render_values,
            "message": MarkedMessage(message, Markup(marker["body"]), marker["preview"]),
            "record_name": marker["record_name"],
            "subtitles": subtitles,
        }

    def fill(self, texts):
        """The layout with ``texts`` ({name: text}) in place of their markers; a
        text that is not Markup is escaped."""
        by_marker = {self.markers[name]: str(escape(text)) for name, text in texts.items()}
        return Markup(self._pattern.sub(lambda match: by_marker[match.group()], self.html))


def texts(message, render_values, url):
    """The texts of one mail a stencil puts in: {marker name: text}."""
    values = {
        "body": message.body or Markup(),
        "preview": message.preview or "",
        "record_name": render_values["record_name"] or "",
        "url": url or "",
    }
    for index, subtitle in enumerate(render_values["subtitles"]):
        values[f"subtitle{index}"] = subtitle
    return values


SIGNUP_TOKEN = re.compile(r"(auth_signup_token=)[^&\"'\s]+")


def same_mail(filled, rendered):
    """Whether a filled stencil is the mail Odoo rendered: the same but for the
    sign-up token, signed with the second it was made at."""
    return SIGNUP_TOKEN.sub(r"\1", str(filled)) == SIGNUP_TOKEN.sub(r"\1", str(rendered))
