"""What the wizards share."""


def reopen_action(wizard, name, **extra):
    """The action that shows ``wizard`` again in its dialog, titled ``name``."""
    return {
        "type": "ir.actions.act_window",
        "res_model": wizard._name,
        "res_id": wizard.id,
        "view_mode": "form",
        "target": "new",
        "name": name,
        **extra,
    }
