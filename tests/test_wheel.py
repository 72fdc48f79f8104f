"""The addon's wheel, built as OCA builds them (whool), holds what Odoo loads.

Built from the git checkout: whool packs the files git tracks, so a file not
committed (or ignored) is missing from the wheel, and this test says which.
"""

import ast
import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "relance_atys"
ODOO_ADDONS = ("addons", "odoo/addons")  # Odoo's own addons, under its source root


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), "."],
        cwd=ADDON,
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("*.whl")
    return path


def manifest():
    return ast.literal_eval((ADDON / "__manifest__.py").read_text())


def tracked(folder):
    out = subprocess.run(
        ["git", "ls-files", folder], cwd=ADDON, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def odoo_core_addons():
    import odoo

    root = Path(odoo.__file__).resolve().parent.parent
    manifests = [m for where in ODOO_ADDONS for m in (root / where).glob("*/__manifest__.py")]
    return {m.parent.name for m in manifests}


def test_wheel_name_version_and_dependencies(wheel):
    man = manifest()
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    assert meta["Name"] == "odoo-addon-relance_atys"
    assert meta["Version"] == man["version"]
    assert wheel.name == f"odoo_addon_relance_atys-{man['version']}-py3-none-any.whl"
    core = odoo_core_addons()
    assert {"account", "mail", "base"} <= core
    expected = {"odoo==18.0.*"}
    expected |= {f"odoo-addon-{dep}==18.0.*" for dep in man["depends"] if dep not in core}
    expected |= set(man["external_dependencies"]["python"])
    assert set(meta.get_all("Requires-Dist")) == expected
    # what the tests use is not required to run the addon
    assert not {"openpyxl", "hypothesis", "pytest-odoo", "aiosmtpd"} & expected
    assert meta["Home-page"] == man["website"]


def test_wheel_holds_what_odoo_loads(wheel):
    man = manifest()
    with zipfile.ZipFile(wheel) as zf:
        names = {n.removeprefix("odoo/addons/relance_atys/") for n in zf.namelist()}
    needed = {"__manifest__.py", "__init__.py", "README.rst"}
    needed |= set(man["data"]) | set(man["demo"])
    for bundle in man["assets"].values():
        for pattern in bundle:
            found = list(REPO.glob(pattern))
            assert found, pattern
            needed |= {str(p.relative_to(ADDON)) for p in found if p.is_file()}
    needed |= set(tracked("i18n")) | set(tracked("static"))
    needed |= {"static/description/icon.png", "static/description/index.html"}
    needed |= {str(p.relative_to(ADDON)) for p in ADDON.rglob("*.py") if "tests" not in p.parts}
    assert {"i18n/fr.po", "i18n/relance_atys.pot"} <= needed
    assert not needed - names, f"missing from the wheel: {sorted(needed - names)}"
    assert "pyproject.toml" not in names


def test_nothing_outside_the_tests_needs_them():
    """The tests ship in the wheel as OCA's do, but the addon runs without them."""
    man = manifest()
    for field in ("data", "demo"):
        assert not [f for f in man[field] if f.startswith("tests/")]
    for bundle, files in man["assets"].items():
        if any("tests" in f for f in files):
            assert bundle == "web.assets_tests"
    for path in ADDON.rglob("*.py"):
        if "tests" in path.relative_to(ADDON).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "tests" not in (node.module or "").split("."), path
                assert not any(alias.name == "tests" for alias in node.names), path
            elif isinstance(node, ast.Import):
                assert not any("tests" in a.name.split(".") for a in node.names), path


def test_readme_rst_is_what_readme_fragments_give():
    """README.rst and index.html are generated (bin/gen-readme): never edited apart."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bin" / "gen-readme"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout
