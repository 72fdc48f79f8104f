"""bin/dev's machine check and installation, and its demo stopping.

The machine is shared and its packages are in use: nothing is uninstalled here.
The check is made to see things missing through fakes (``which``, the Python probe,
the commands it would run), and the parts that touch the real machine are run for
real where they change nothing (the Odoo import probe, ``apt-get install -s``).
"""

import importlib.machinery
import importlib.util
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_dev():
    loader = importlib.machinery.SourceFileLoader("bin_dev", str(REPO / "bin" / "dev"))
    spec = importlib.util.spec_from_loader("bin_dev", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def dev():
    return load_dev()


class Tty(io.StringIO):
    def isatty(self):
        return True


class Recorder:
    """Stands for subprocess.run: records the commands, succeeds."""

    def __init__(self, after=None):
        self.commands = []
        self.after = after

    def __call__(self, cmd, **kwargs):
        self.commands.append(list(cmd))
        if self.after:
            self.after(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")


def fake_machine(dev, monkeypatch, debs, mods, root=Path("/opt/odoo18"), euid=0):
    """Make the check see ``debs`` Debian programs and ``mods`` modules missing."""
    state = {"debs": set(debs), "mods": dict(mods)}
    monkeypatch.setattr(dev, "odoo_root", lambda: root)
    real = dev.missing_debian

    def absent():  # no chromium: no google-chrome either
        return state["debs"] | ({"google-chrome"} if "chromium" in state["debs"] else set())

    monkeypatch.setattr(
        dev,
        "missing_debian",
        lambda for_tests: real(for_tests, which=lambda p: None if p in absent() else p),
    )
    monkeypatch.setattr(dev, "missing_python", lambda r, for_tests: (None, dict(state["mods"])))
    monkeypatch.setattr(dev.os, "geteuid", lambda: euid)
    monkeypatch.setattr(dev.shutil, "which", lambda name: f"/usr/bin/{name}")

    def installed(cmd):  # what a successful apt-get / pip leaves behind
        if cmd[:2] == ["apt-get", "install"]:
            state["debs"].clear()
        if "pip" in cmd:
            state["mods"].clear()

    recorder = Recorder(after=installed)
    monkeypatch.setattr(dev.subprocess, "run", recorder)
    return recorder


def test_missing_debian_names_the_packages(dev):
    nothing = dev.missing_debian(True, which=lambda program: None)
    assert sorted(nothing) == [
        "chromium",
        "poppler-utils",
        "postgresql-15",
        "postgresql-client-15",
        "wkhtmltopdf",
    ]
    # the demo needs neither the browser nor poppler
    assert sorted(dev.missing_debian(False, which=lambda program: None)) == [
        "postgresql-15",
        "postgresql-client-15",
        "wkhtmltopdf",
    ]
    only_chrome = dev.missing_debian(
        True, which=lambda program: None if "chrom" in program else program
    )
    assert only_chrome == {"chromium": "browser tests: chromium"}
    assert dev.missing_debian(True, which=lambda program: program) == {}


def test_installs_with_yes_and_no_terminal(dev, monkeypatch, capsys):
    run = fake_machine(dev, monkeypatch, {"wkhtmltopdf", "pdftoppm"}, {"xlsxwriter": "xlsxwriter"})
    monkeypatch.setattr(dev.sys, "stdin", io.StringIO(""))  # CI: no terminal
    assert dev.check_machine(for_tests=True, assume_yes=True) == Path("/opt/odoo18")
    assert run.commands[0] == ["apt-get", "update"]
    assert run.commands[1] == [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "poppler-utils",
        "wkhtmltopdf",
    ]
    assert run.commands[2][1:4] == ["-m", "pip", "install"]
    assert "xlsxwriter>=3.0" in run.commands[2]
    assert run.commands[3][-2:] == ["--no-deps", "odoo-addon-queue-job==18.0.1.6.1"]
    assert "installed; everything needed is here" in capsys.readouterr().out


def test_no_terminal_without_yes_installs_nothing(dev, monkeypatch, capsys):
    run = fake_machine(dev, monkeypatch, {"chromium"}, {})
    monkeypatch.setattr(dev.sys, "stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as stop:
        dev.check_machine(for_tests=True)
    assert stop.value.code == 2
    assert run.commands == []
    out = capsys.readouterr().out
    assert "Debian package chromium (browser tests: chromium)" in out
    assert "apt-get install -y --no-install-recommends chromium" in out
    assert "--yes installs without asking" in out


def test_terminal_asks_first(dev, monkeypatch, capsys):
    run = fake_machine(dev, monkeypatch, {"initdb"}, {})
    monkeypatch.setattr(dev.sys, "stdin", Tty("n\n"))
    with pytest.raises(SystemExit):
        dev.check_machine(for_tests=False)
    assert run.commands == []
    assert "Install it now? [Y/n]" in capsys.readouterr().out

    dev = load_dev()
    run = fake_machine(dev, monkeypatch, {"initdb"}, {})
    monkeypatch.setattr(dev.sys, "stdin", Tty("\n"))  # Enter: yes
    dev.check_machine(for_tests=False)
    assert run.commands[-1][-1] == "postgresql-15"


def test_not_root_is_told_the_command(dev, monkeypatch, capsys):
    run = fake_machine(dev, monkeypatch, {"wkhtmltopdf"}, {"ruff": "ruff"}, euid=1000)
    with pytest.raises(SystemExit) as stop:
        dev.check_machine(for_tests=True, assume_yes=True)
    assert stop.value.code == 2
    assert run.commands == []
    out = capsys.readouterr().out
    assert "sudo apt-get install wkhtmltopdf" in out
    assert "pip install --disable-pip-version-check --no-deps odoo-addon-queue-job" in out
    assert "'xlsxwriter>=3.0'" in out  # quoted: the line can be pasted in a shell


def test_without_odoo_one_message_and_nothing_installed(dev, monkeypatch, capsys):
    run = fake_machine(dev, monkeypatch, {"chromium"}, {}, root=None)
    monkeypatch.delenv("ODOO_SRC", raising=False)
    with pytest.raises(SystemExit) as stop:
        dev.check_machine(for_tests=True, assume_yes=True)
    assert stop.value.code == 2
    assert run.commands == []
    out = capsys.readouterr().out
    assert "Odoo 18.0: not importable by" in out
    assert "git clone --depth 1 --branch 18.0" in out
    assert "install -r /opt/odoo18/requirements.txt" in out
    assert "Debian package chromium" in out  # the rest is listed in the same message


def test_a_failed_installation_stops(dev, monkeypatch, capsys):
    fake_machine(dev, monkeypatch, {"wkhtmltopdf"}, {})
    monkeypatch.setattr(
        dev.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 100)
    )
    with pytest.raises(SystemExit) as stop:
        dev.check_machine(for_tests=False, assume_yes=True)
    assert stop.value.code == 2
    assert "this installation failed" in capsys.readouterr().out


def test_odoo_probe_finds_odoo_and_the_missing_modules(dev):
    root = dev.odoo_root()
    found = dev.probe_odoo(root, ["xlsxwriter", "odoo.addons.queue_job", "no_such_module_x"])
    assert found["version"].startswith("18.0")
    assert found["missing"] == ["no_such_module_x"]


def test_odoo_probe_names_a_missing_requirement_of_odoo(dev, tmp_path, monkeypatch):
    """An Odoo whose own requirement (lxml) is missing: the check names it and says how."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'lxml':\n"
        "            raise ModuleNotFoundError(\"No module named 'lxml'\", name='lxml')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    root = dev.odoo_root()
    problem, mods = dev.missing_python(root, for_tests=False)
    assert "does not import (module 'lxml' missing)" in problem
    assert f"install -r {root / 'requirements.txt'}" in problem
    assert mods == {}


def test_apt_get_accepts_the_install_command(dev):
    """The packages exist under these names here (simulated: nothing is changed)."""
    cmd = dev.apt_install_commands(["postgresql-15", "wkhtmltopdf", "chromium", "poppler-utils"])
    simulate = [*cmd[-1][:2], "-s", *cmd[-1][2:]]
    out = subprocess.run(simulate, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Unable to locate" not in out.stderr


def test_pip_commands_leave_odoo_alone(dev):
    """Addons from PyPI go in without their deps (the 'odoo' distribution and its
    requirements, checked by importing Odoo); the rest as requirements.txt says."""
    plain, addons = dev.pip_install_commands()
    assert addons[-2:] == ["--no-deps", "odoo-addon-queue-job==18.0.1.6.1"]
    assert "xlsxwriter>=3.0" in plain and "whool>=1.0" in plain
    assert not any(arg.startswith("odoo") for arg in plain)


def test_sigint_stops_a_backgrounded_demo_as_sigterm_does(tmp_path):
    """A shell starting `bin/dev demo &` leaves SIGINT ignored; the demo listens anyway."""
    script = (
        "import importlib.machinery, importlib.util, signal, sys, time\n"
        f"loader = importlib.machinery.SourceFileLoader('d', {str(REPO / 'bin' / 'dev')!r})\n"
        "spec = importlib.util.spec_from_loader('d', loader)\n"
        "d = importlib.util.module_from_spec(spec); loader.exec_module(d)\n"
        "d.interrupt_on_signals()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('stopped cleanly', flush=True)\n"
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `&` does
        )
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
        assert out.strip() == "stopped cleanly", sig


MASTER = """
import signal, subprocess, sys, time
if sys.argv[1] == "master":  # an Odoo master: stops its worker on SIGTERM
    worker = subprocess.Popen([sys.executable, "-c", SRC, "worker", *sys.argv[2:]])
    def stop(signum, frame):
        worker.terminate()
        worker.wait()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
time.sleep(120)
"""


def test_demo_stop_stops_what_a_demo_left(dev, tmp_path, monkeypatch, capsys):
    """An Odoo and its worker left by a killed demo (found by their configuration
    file): the master is stopped, which stops its worker; nothing else is touched."""
    monkeypatch.setattr(dev, "LOCAL", tmp_path)
    monkeypatch.setattr(dev, "DEMO_PID", tmp_path / "demo.pid")
    conf = tmp_path / "odoo-demo.conf"
    src = f"SRC = {MASTER!r}\n" + MASTER
    left = subprocess.Popen(
        [sys.executable, "-c", src, "master", "-c", str(conf)], stdout=subprocess.PIPE, text=True
    )
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert left.stdout.readline().strip() == "up"
        deadline = time.time() + 10
        while len(dev.demo_processes()) < 2 and time.time() < deadline:
            time.sleep(0.1)
        found = dev.demo_processes()
        assert len(found) == 2 and left.pid in found  # the master and its worker
        dev.stop_demo()
        assert left.wait(timeout=10) == 0  # stopped by its SIGTERM handler
        assert dev.demo_processes() == []
        assert other.poll() is None  # only the demo's processes
        out = capsys.readouterr().out
        assert out.count("stopping process") == 1  # the master; it stops its worker
        assert f"stopping process {left.pid} (SIGTERM)" in out
        dev.stop_demo()
        assert "no demo running" in capsys.readouterr().out
    finally:
        for pid in dev.demo_processes():
            os.kill(pid, signal.SIGKILL)
        for proc in (left, other):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_demo_checks_its_python_modules_too(dev, monkeypatch):
    """bin/dev demo asks the interpreter running Odoo for the addon's modules."""
    asked = {}

    def probe(root, modules):
        asked[len(asked)] = modules
        return {"version": "18.0", "missing": [m for m in modules if m == "xlsxwriter"]}

    monkeypatch.setattr(dev, "probe_odoo", probe)
    problem, missing = dev.missing_python(Path("/opt/odoo18"), for_tests=False)
    assert problem is None and missing == {"xlsxwriter": "xlsxwriter"}
    assert asked[0] == ["xlsxwriter", "zope.interface", "odoo.addons.queue_job"]
    dev.missing_python(Path("/opt/odoo18"), for_tests=True)
    assert {"pytest_odoo", "freezegun", "websocket", "whool"} <= set(asked[1])

    monkeypatch.setattr(dev, "probe_odoo", lambda root, modules: {"version": "17.0"})
    problem, _ = dev.missing_python(Path("/opt/odoo17"), for_tests=False)
    assert problem == "Odoo 18.0 needed: found 17.0 at /opt/odoo17."


def test_test_command_passes_pytest_options_in_order(dev, monkeypatch):
    """`bin/dev test --no-lint file -k name`: our options anywhere, pytest's kept."""
    seen = []
    monkeypatch.setattr(dev, "cmd_test", seen.append)
    for argv in (
        ["test"],
        ["test", "--no-lint", "a.py", "-k", "email"],
        ["test", "-k", "email", "--yes"],
    ):
        monkeypatch.setattr(dev.sys, "argv", ["bin/dev", *argv])
        dev.main()
    assert [(ns.no_lint, ns.yes, ns.pytest_args) for ns in seen] == [
        (False, False, []),
        (True, False, ["a.py", "-k", "email"]),
        (False, True, ["-k", "email"]),
    ]
