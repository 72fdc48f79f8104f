"""Odoo's own test runner and ``bin/dev test`` (pytest-odoo) see the same tests.

``odoo-bin --test-enable --test-tags /relance_atys`` runs the test methods of the
test case classes of the modules ``relance_atys/tests/__init__.py`` imports,
filtered by their tags (at_install, post_install); pytest collects every
``test_*`` of ``relance_atys/tests``. A plain ``unittest.TestCase``, a test
function or a module left out of ``__init__.py`` is run by one and not the
other. Both lists are made here without running a test: Odoo's loader, and
``pytest --collect-only``.
"""

import subprocess
import sys
from pathlib import Path

from test_dev import load_dev  # pytest puts this folder on the path

REPO = Path(__file__).resolve().parent.parent

ODOO_LIST = """
import sys
from odoo.tools import config
config.parse_config(["--addons-path=" + sys.argv[1], "--test-tags=/relance_atys"])
from odoo.tests import loader
from odoo.tests.tag_selector import TagsSelector
tags = TagsSelector(config["test_tags"])
for position in ("at_install", "post_install"):
    selector = TagsSelector(position)
    for module in loader.get_test_modules("relance_atys"):
        for test in loader.get_module_test_cases(module):
            if selector.check(test) and tags.check(test):
                print("TEST", test.id())
"""


def run(cmd, env):
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout.splitlines()


def odoo_tests(dev):
    root = dev.odoo_root()
    addons = ",".join(str(p) for p in (root / "addons", root / "odoo" / "addons", REPO))
    lines = run([sys.executable, "-c", ODOO_LIST, addons], dev.odoo_env(root))
    prefix = "TEST odoo.addons.relance_atys.tests."
    return {line[len(prefix) :] for line in lines if line.startswith(prefix)}


def pytest_tests(dev, tmp_path):
    root = dev.odoo_root()
    conf = tmp_path / "odoo.conf"  # collecting imports the addon; no database is opened
    conf.write_text(f"[options]\naddons_path = {root / 'addons'},{REPO}\n")
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    cmd += [f"--odoo-config={conf}", "--odoo-database=collect_only", "relance_atys/tests"]
    tests = set()
    for line in run(cmd, dev.odoo_env(root)):
        path, _sep, name = line.partition("::")
        if name and path.startswith("relance_atys/tests/"):
            module = Path(path).stem
            tests.add(f"{module}.{name.replace('::', '.')}")
    return tests


def test_odoo_runner_and_pytest_see_the_same_tests(tmp_path):
    dev = load_dev()
    odoo, pytest_ = odoo_tests(dev), pytest_tests(dev, tmp_path)
    assert len(odoo) > 200, "Odoo's loader found the addon's tests"
    assert sorted(pytest_ - odoo) == [], "collected by pytest, skipped by odoo-bin --test-enable"
    assert sorted(odoo - pytest_) == [], "run by odoo-bin --test-enable, not collected by pytest"
