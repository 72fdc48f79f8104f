"""Who may write the dunning state of documents and customers, and the wizards' company.

Levels and dates are the dunning services' to write (by SQL, after their own
checks): a direct ``write`` or ``create`` of them is refused to everyone but the
superuser. The exclusion ("NA") is written by dunning managers. Odoo's own
synchronisation of a customer's commercial fields to its contacts runs inside
``service_writes()``, a flag in the Python context of the request: a client
cannot set it, unlike a context key it sends over RPC.
"""

import contextvars
from contextlib import contextmanager

from odoo.exceptions import UserError

LEVEL_FIELDS = ("relance_level", "relance_date")
EXCLUSION_FIELD = "relance_excluded"
MANAGER_GROUP = "relance_atys.group_relance_manager"

_service_writes = contextvars.ContextVar("relance_service_writes", default=False)


@contextmanager
def service_writes():
    """Let the code inside write levels, dates and exclusions through the ORM."""
    token = _service_writes.set(True)
    try:
        yield
    finally:
        _service_writes.reset(token)


def _changes(records, vals, name):
    """Whether writing ``vals[name]`` changes it on any of ``records``."""
    field = records._fields[name]
    if field.type in ("one2many", "many2many"):
        return True  # commands: any of them changes something
    value = field.convert_to_cache(vals[name], records)
    return any(field.convert_to_cache(record[name], record) != value for record in records)


def check_dunning_write(records, vals_list, create=False):
    """Refuse, with a clear message, a change of the dunning state its writer may not make.

    ``create``: the new records have no value yet, so any value but the default
    (level 0, no date, not excluded) is a change.
    """
    env = records.env
    if env.su or _service_writes.get():
        return
    for vals in vals_list:
        names = [name for name in LEVEL_FIELDS if name in vals]
        if create:
            names = [name for name in names if vals[name]]
        elif names:
            names = [name for name in names if _changes(records.sudo(), vals, name)]
        if names:
            raise UserError(
                env._(
                    "The dunning level and date of documents and customers are set by the "
                    "dunning runs only; a dunning manager changes them by hand in "
                    "Dunning > Level management."
                )
            )
        if EXCLUSION_FIELD in vals and not env.user.has_group(MANAGER_GROUP):
            excluded = vals[EXCLUSION_FIELD]
            if excluded if create else _changes(records.sudo(), vals, EXCLUSION_FIELD):
                raise UserError(
                    env._(
                        "Only dunning managers can exclude a document or a customer from "
                        "dunning, or include it again."
                    )
                )


def check_company(wizard):
    """Refuse a wizard of a company its user does not work in (now)."""
    env = wizard.env
    if env.su:
        return
    outside = wizard.company_id - env.companies
    if outside:
        raise UserError(
            env._(
                "You cannot work on the company %s: it is not among your current companies.",
                ", ".join(outside.sudo().mapped("name")),
            )
        )


def check_readable(wizard, field_names):
    """Refuse filters the user cannot read, rather than drop them without a word
    (the ORM leaves out of a many2many what its reader may not see)."""
    env = wizard.env
    if env.su:
        return
    for name in field_names:
        chosen = wizard.sudo().with_context(active_test=False)[name]
        hidden = chosen - chosen.with_env(env)._filtered_access("read")
        if hidden:
            raise UserError(
                env._(
                    "%(count)s of the chosen '%(filter)s' are not visible to you (another "
                    "company's, or hidden): take them out of the filter.",
                    count=len(hidden),
                    filter=wizard._fields[name]._description_string(env),
                )
            )


def check_history_write(records, vals, names):
    """Refuse a change by hand of what a run recorded (``names`` of ``records``):
    cancelling a run gives back what its lines say was there."""
    env = records.env
    if env.su or _service_writes.get():
        return
    if any(_changes(records.sudo(), vals, name) for name in names if name in vals):
        raise UserError(
            env._(
                "The dunning history is written by the dunning runs only: what a run "
                "recorded cannot be changed by hand."
            )
        )


def check_manager(env, message):
    """Refuse anyone but a dunning manager; ``message`` says what they cannot do."""
    if not env.user.has_group(MANAGER_GROUP):
        raise UserError(message)
