"""The actions the wizards and the history give the web client."""


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


def download_action(attachment):
    """The action that downloads ``attachment``."""
    return {
        "type": "ir.actions.act_url",
        "url": f"/web/content/{attachment.id}?download=true",
        "target": "download",
    }


def background_action(run, message, linked=False):
    """Tell the user ``run`` goes on in the background (``message``), and open it;
    ``linked``: the run's name is a link in ``message`` (at its ``%s``), not its title."""
    params = {
        "type": "info",
        "message": message,
        # an action the client runs as is: its views given
        "next": dict(run._get_form_action(), views=[(False, "form")]),
    }
    if linked:
        params["links"] = [{"label": run.name, "url": f"/odoo/relance.run/{run.id}"}]
    else:
        params["title"] = run.name
    return {"type": "ir.actions.client", "tag": "display_notification", "params": params}
