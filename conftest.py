"""A skipped test is a failure here: Odoo skips browser tests without a word when
Chromium or websocket-client is missing, and that must not pass for green."""

import logging

import pytest


class QuietTestFrameworkImport(logging.Filter):
    """pytest-odoo imports Odoo's test framework outside Odoo's own test mode (whose
    switch also makes reports render as HTML), so Odoo logs "Importing test framework"
    as an error with a 40-line stack: expected here, and dropped."""

    def filter(self, record):
        return not str(record.msg).startswith("Importing test framework")


logging.getLogger("odoo.tests.common").addFilter(QuietTestFrameworkImport())


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} test(s) skipped: counted as failures (see the reasons above)",
            red=True,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    skipped = session.config.pluginmanager.get_plugin("terminalreporter").stats.get("skipped")
    if skipped and exitstatus == 0:
        session.exitstatus = 1
