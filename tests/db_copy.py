"""A database of a test's own, copied from the template ``bin/dev test`` keeps of the
test database (its demo data, its filestore), for tests that run Odoo apart from
pytest-odoo's registry: a server in workers mode, the bench's measures."""

import os
import shutil
from pathlib import Path

import psycopg2

from odoo.tools import config


def connect(db="postgres"):
    """A connection to ``db`` of the test cluster, outside any transaction."""
    conn = psycopg2.connect(
        host=os.environ["RELANCE_DB_SOCKET"],
        port=config["db_port"],
        user=config["db_user"],
        dbname=db,
    )
    conn.autocommit = True
    return conn


def admin_sql(statement):
    """``statement`` outside any transaction (CREATE/DROP DATABASE)."""
    conn = connect()
    try:
        with conn.cursor() as cr:
            cr.execute(statement)
    finally:
        conn.close()


def create(db):
    """``db``, a copy of the test database and of its files."""
    admin_sql(f'CREATE DATABASE "{db}" TEMPLATE "{os.environ["RELANCE_DB_TEMPLATE"]}"')
    filestore = Path(config["data_dir"]) / "filestore"
    source = filestore / config["db_name"]  # the template's files are the test db's
    if source.exists():
        shutil.copytree(source, filestore / db)


def drop(db):
    admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    shutil.rmtree(Path(config["data_dir"]) / "filestore" / db, ignore_errors=True)
