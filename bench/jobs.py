"""Background runs measured as production runs them: queue_job's jobs on a real server.

A measure here starts Odoo in workers mode on a copy of the ledger
(``--workers=4``, queue_job loaded server-wide, its job runner with the
bench config's channels, ``root:2``: two jobs at once), clicks as the user in
a process of its own (the click's call, committed, is timed), then watches the
run until its end state. Kept: the click's time, the whole time from the click
to the last job's end (queue_job's ``date_done``), every job's duration
(``date_done - date_started``), and the peak memory (RSS) of each of the
server's processes, sampled while it works and read from ``VmHWM`` at the end.

Each measure runs once, on its own copy of the template (the run commits).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2  # jobs at once: the bench config's channels, root:2
# Odoo's HTTP workers: more than the job slots, since a job that prints has
# wkhtmltopdf fetch the report's CSS from this server (with as many workers as
# jobs, two printing jobs wait for a free worker until both are killed)
HTTP_WORKERS = WORKERS + 2
TIMEOUT = 1800  # seconds a run may take before the bench gives up on it
POLL = 0.25

# measure: (label, what the click does in measures.CLICKS, channel of its jobs)
JOB_MEASURES = {
    "signature_jobs": ("Signature reminders, 2 job workers", "signature"),
    "email_few_jobs": (
        "Email mode, 20 customers (invoice PDFs printed), 2 job workers",
        "email_few",
    ),
    "email_jobs": ("Email mode, 1,000 customers (invoice PDFs printed), 2 job workers", "email"),
    "definitive_jobs": ("Definitive edition with its letters, 2 job workers", "definitive"),
}

# measures watched only until this many of their batch jobs are done (the rest
# would take an hour on a shared machine): their jobs' durations and the workers'
# memory are those of the sample, the whole time is projected from it
SAMPLED = {"definitive_jobs": 24}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Odoo in workers mode with queue_job's runner, on ``db``; stopped on exit."""

    def __init__(self, odoo, db, log):
        self.odoo, self.db, self.log = odoo, db, log
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        # a file: workers mode starts its long-polling process by re-running argv[0]
        launcher = str(REPO / "bin" / "odoo-run")
        cmd = [
            sys.executable, launcher, "-c", self.odoo.config, "-d", self.db,
            "--db-filter", f"^{self.db}$", f"--addons-path={self.odoo.addons_path}",
            f"--workers={HTTP_WORKERS}", "--max-cron-threads=0", "--load=base,web,queue_job",
            f"--http-port={self.port}", f"--gevent-port={free_port()}",
            "--limit-time-real=120", "--limit-time-cpu=60", "--log-level=warn",
            f"--logfile={self.log}",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=self.odoo.env, cwd=REPO)
        self._warm()
        return self

    def _warm(self):
        """Wait for the server, and let each worker load the registry once."""
        url = f"http://127.0.0.1:{self.port}/web/login?db={self.db}"
        deadline = time.time() + 300
        ready = 0
        while ready < 4 * HTTP_WORKERS:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Odoo server stopped, see {self.log}")
            if time.time() > deadline:
                raise RuntimeError(f"the Odoo server did not answer, see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    ready += response.status == 200
            except OSError:
                time.sleep(0.5)

    def processes(self):
        """The server's processes: the master and its children (workers, runner)."""
        pids = {self.proc.pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.add(int(stat.parent.name))
        return pids

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _status_mb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(line for line in status if line.startswith(f"{key}:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def _cpu_seconds(pid):
    """CPU time of ``pid`` and of its children it waited for (wkhtmltopdf), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _batches_done(pg, db):
    return pg.run(
        "SELECT COUNT(*) FROM queue_job WHERE state = 'done' AND method_name LIKE %s",
        ["%_batch"],
        db=db,
    )[0][0]


def measure(pg, odoo, db, name):
    """Start the server on ``db``, click ``name``, watch the run to its end."""
    label, click = JOB_MEASURES[name]
    log = REPO / ".local" / f"bench-jobs-{name}.log"
    load_before = os.getloadavg()[0]
    server = Server(odoo, db, log)
    # wkhtmltopdf fetches the reports' CSS from this server, not the one the ledger
    # was built with
    pg.run(
        "INSERT INTO ir_config_parameter (key, value) VALUES ('report.url', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [f"http://127.0.0.1:{server.port}"],
        db=db,
    )
    with server:
        peaks = {}
        cpu_before = {pid: _cpu_seconds(pid) for pid in server.processes()}
        clicked = odoo.worker(db, "click", click)
        run_id, states = clicked["run_id"], []
        deadline = time.time() + TIMEOUT
        while True:
            for pid in server.processes():
                peaks[pid] = max(peaks.get(pid, 0.0), _status_mb(pid, "VmRSS"))
            state, done, total = pg.run(
                "SELECT state, progress_done, progress_total FROM relance_run WHERE id = %s",
                [run_id],
                db=db,
            )[0]
            if not states or states[-1][1:] != (state, done):
                states.append((round(time.time() - clicked["started"], 1), state, done))
            if state not in ("planning", "queued", "running"):
                break
            if name in SAMPLED and _batches_done(pg, db) >= SAMPLED[name]:
                break
            if time.time() > deadline:
                raise RuntimeError(f"{name}: the run {run_id} did not end in {TIMEOUT} s")
            time.sleep(POLL)
        for pid in server.processes():  # the peak each process ever had
            peaks[pid] = max(peaks.get(pid, 0.0), _status_mb(pid, "VmHWM"))
        # the server's CPU over the run (workers, runner, their wkhtmltopdf), not
        # PostgreSQL's: what a machine of its own would spend, whatever the load
        cpu = sum(_cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in server.processes())
        master = server.proc.pid
    jobs = pg.run(
        "SELECT state, EXTRACT(EPOCH FROM date_done - date_started),"
        " EXTRACT(EPOCH FROM date_done), retry, method_name,"
        " EXTRACT(EPOCH FROM date_started - date_created) FROM queue_job ORDER BY id",
        db=db,
    )
    durations = [float(seconds) for _state, seconds, *_rest in jobs if seconds is not None]
    end = max((float(job[2]) for job in jobs if job[2] is not None), default=time.time())
    counts = dict(
        pg.run(
            "SELECT outcome, COUNT(*) FROM relance_run_line WHERE run_id = %s GROUP BY outcome",
            [run_id],
            db=db,
        )
    )
    customers, documents = pg.run(
        "SELECT COUNT(DISTINCT partner_id), COUNT(move_id) FROM relance_run_line WHERE run_id = %s",
        [run_id],
        db=db,
    )[0]
    workers = [mb for pid, mb in peaks.items() if pid != master]
    batches = [job for job in jobs if job[4].endswith("_batch")]
    done_batches = [job for job in batches if job[0] == "done"]
    sample = {}
    if name in SAMPLED:
        first = min(float(job[2]) - float(job[1]) for job in done_batches)  # first start
        working = max(float(job[2]) for job in done_batches) - first
        sample = {
            "sampled_jobs": len(done_batches),
            "batch_jobs": len(batches),
            "first_job_start_seconds": round(first - clicked["started"], 2),
            # until the first job started, then the sample's pace for every batch
            "projected_seconds": round(
                first - clicked["started"] + working * len(batches) / len(done_batches), 1
            ),
        }
    return {
        "label": label,
        "seconds": round(end - clicked["started"], 2),
        "click_seconds": round(clicked["seconds"], 3),
        "click_queries": clicked["queries"],
        "state": state,
        "total": total,
        "jobs": len(jobs),
        "jobs_by_state": {s: sum(1 for j in jobs if j[0] == s) for s in {j[0] for j in jobs}},
        "job_max_seconds": round(max(durations, default=0.0), 2),
        "job_mean_seconds": round(sum(durations) / len(durations), 2) if durations else 0.0,
        "job_retries": sum(job[3] or 0 for job in jobs),
        # each job that ran: method, seconds it ran, seconds from its creation to its
        # start, times queue_job started it
        "job_list": [
            [job[4], round(float(job[1]), 1), round(float(job[5]), 1), job[3]]
            for job in jobs
            if job[1] is not None
        ],
        "server_cpu_seconds": round(cpu, 1),
        "worker_rss_peak_mb": round(max(workers, default=0.0), 1),
        "master_rss_peak_mb": round(peaks.get(master, 0.0), 1),
        "progress": states,
        "counts": counts,
        "customers": customers,
        "documents": documents,
        **sample,
        "workers": WORKERS,
        "http_workers": HTTP_WORKERS,
        "load": [load_before, os.getloadavg()[0]],
    }
