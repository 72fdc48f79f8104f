"""One Odoo step of the bench, in its own process: seed, clone, verify, prepare, measure.

    worker.py --config C --addons-path P --db D --out F TASK [ARGS...]

Writes the task's result as JSON to F. ``bench.py`` runs it; it can also be run
by hand on a kept database (``bench.py --keep``) to profile one measure.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def odoo_registry(args, http):
    """Load Odoo's registry of ``args.db``; with ``http``, serve it (wkhtmltopdf's CSS)."""
    import odoo
    from odoo.tools import config

    config.parse_config(
        [
            "-c", args.config, "--addons-path", args.addons_path, "-d", args.db,
            "--db-filter", f"^{args.db}$", "--max-cron-threads=0", "--log-level=warn",
        ]
    )  # fmt: skip
    registry = odoo.modules.registry.Registry(args.db)
    if http:
        from odoo.service import server

        server.load_server_wide_modules()
        server.server = server.ThreadedServer(odoo.http.root)
        server.server.http_spawn()
    return registry


class UnpatchedQtNoise(logging.Filter):
    """Debian's wkhtmltopdf warns at every call that it ignores some switches."""

    def filter(self, record):
        return "unpatched qt" not in record.getMessage()


def main():
    parser = argparse.ArgumentParser()
    for option in ("--config", "--addons-path", "--db", "--out"):
        parser.add_argument(option, required=True)
    parser.add_argument(
        "task",
        choices=["seed", "clone", "verify", "describe", "prepare", "measure", "profile", "click"],
    )
    parser.add_argument("task_args", nargs="*")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    import ledger
    import measures

    registry = odoo_registry(args, http=args.task in ("measure", "profile"))
    logging.getLogger("odoo.addons.base.models.ir_actions_report").addFilter(UnpatchedQtNoise())
    tasks = {
        "seed": ledger.seed,
        "clone": ledger.clone,
        "verify": ledger.verify,
        "describe": measures.describe,
        "prepare": measures.prepare,
        "measure": measures.measure,
        "profile": measures.profile,
        "click": measures.click,
    }
    result = tasks[args.task](registry, *args.task_args)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    sys.stdout.flush()
    os._exit(0)  # the HTTP server's threads would keep the process alive


if __name__ == "__main__":
    main()
