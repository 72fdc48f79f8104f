"""Two definitive editions at once, on two real database connections.

A BaseCase, not a TransactionCase: each side opens its own cursor on the test database and
commits, as two users' requests would. The demo company's ledger is the data;
everything recorded here is cancelled and deleted again at the end.
"""

import threading

from odoo import api
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged
from odoo.tools import config

from .common import own_registry_lock


@tagged("post_install", "-at_install")
class TestConcurrentEditions(BaseCase):
    @classmethod
    def setUpClass(cls):
        cls.registry = Registry(config["db_name"])

    def setUp(self):
        super().setUp()
        own_registry_lock(self)  # the two "requests" (threads) open the registry

    def _env(self, cr):
        admin = api.Environment(cr, api.SUPERUSER_ID, {}).ref("base.user_admin")
        return api.Environment(
            cr, admin.id, {"allowed_company_ids": [admin.company_id.id], "lang": "en_US"}
        )

    def _reviewed_edition(self, cr):
        edition = self._env(cr)["relance.edition"].create({"output": "letters", "definitive": True})
        edition.action_review()
        return edition

    def _cleanup(self, run_ids):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            for run in env["relance.run"].browse(run_ids).exists():
                if run.state == "done":
                    env["relance.service"]._cancel_run(run)
                # history is never deleted by users: the test cleans up as superuser
                run.sudo().line_ids.unlink()
                run.sudo().attachment_id.unlink()
                run.sudo().unlink()

    def _levels(self, cr, move_ids):
        cr.execute(
            "SELECT id, relance_level, relance_date FROM account_move "
            "WHERE id = ANY(%s) ORDER BY id",
            [move_ids],
        )
        return cr.fetchall()

    def test_locked_documents_then_stale_proposal(self):
        """A locks; B is refused, naming the lock; A commits; B is refused, naming A's run."""
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            edition_a = self._reviewed_edition(cr_a)
            edition_b = self._reviewed_edition(cr_b)
            cr_b.commit()  # B's review is stored; A's edition is in progress
            service_a = edition_a.env["relance.service"]
            move_ids = service_a._review_ticked_lines(edition_a, "none ticked").move_id.ids
            before = self._levels(cr_b, move_ids)
            # A takes the documents' locks, as its definitive edition does first
            edition_a.env["relance.service"]._lock_documents(move_ids)
            with self.assertRaisesRegex(UserError, "Another definitive dunning"):
                edition_b.action_print_definitive()
            cr_b.rollback()
            self.assertEqual(self._levels(cr_b, move_ids), before, "B wrote nothing")
            edition_a.action_print_definitive()
            run_a = edition_a.env["relance.run"].search([], order="id desc", limit=1)
            cr_a.commit()
            try:
                self.assertEqual(run_a.state, "done")
                # B's next request starts after A's commit (a request that began
                # before it would hit a serialization failure, which Odoo retries)
                cr_b.rollback()
                edition_b.invalidate_recordset()
                with self.assertRaisesRegex(UserError, run_a.name):
                    edition_b.action_print_definitive()
                cr_b.rollback()
                runs = self._env(cr_b)["relance.run"].search_count([("id", ">=", run_a.id)])
                self.assertEqual(runs, 1, "exactly one edition recorded")
            finally:
                self._cleanup(run_a.ids)
        with self.registry.cursor() as cr:
            self.assertEqual(self._levels(cr, move_ids), before, "cancellation restored all")

    def test_two_threads_at_once(self):
        """Both print at the same moment: exactly one records, the other is told why."""
        with self.registry.cursor() as cr:
            edition_ids = [self._reviewed_edition(cr).id for _i in range(2)]
            last_run = self._env(cr)["relance.run"].search([], order="id desc", limit=1).id or 0
            cr.commit()
        barrier = threading.Barrier(2)
        outcomes = {}

        def print_definitive(index):
            with self.registry.cursor() as cr:
                edition = self._env(cr)["relance.edition"].browse(edition_ids[index])
                barrier.wait()
                try:
                    edition.action_print_definitive()
                    cr.commit()
                    outcomes[index] = "recorded"
                except UserError as error:
                    cr.rollback()
                    outcomes[index] = str(error)

        threads = [threading.Thread(target=print_definitive, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        with self.registry.cursor() as cr:
            new_runs = self._env(cr)["relance.run"].search([("id", ">", last_run)]).ids
        recorded = [i for i, outcome in outcomes.items() if outcome == "recorded"]
        try:
            self.assertEqual(len(recorded), 1, outcomes)
            self.assertEqual(len(new_runs), 1, "exactly one run recorded")
            refused = outcomes[1 - recorded[0]]
            # locked by the other (still recording), committed by it since this one
            # began, or dunned by it before: each answer names what happened
            self.assertRegex(
                refused, "Another definitive dunning (is recording|has just)|were dunned since"
            )
        finally:
            self._cleanup(new_runs)
