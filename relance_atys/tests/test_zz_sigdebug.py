import logging
from odoo.tests import tagged
from odoo.addons.relance_atys.tests.test_signature import TestSignatureReminders, days_ago

@tagged("post_install", "-at_install")
class TestDebug(TestSignatureReminders):
    def test_queries(self):
        self._quotation(self.contact, 40)
        options = self._wizard(date_from=days_ago(400), template_ids=self.purchase_contract.ids,
            category_ids=self.tag.ids, partner_ids=self.deco.ids, condition="draft")._options()
        self.env.invalidate_all()
        self.env.flush_all()
        logging.getLogger("odoo.sql_db").setLevel(logging.DEBUG)
        logging.getLogger("odoo.sql_db").addHandler(logging.FileHandler("/tmp/sigtest/queries.log"))
        self.env["sale.order"]._relance_signature_proposal(self.company, options)
        logging.getLogger("odoo.sql_db").setLevel(logging.INFO)
