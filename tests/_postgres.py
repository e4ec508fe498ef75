"""A real PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary folder.

``make test`` installs Debian's ``postgresql`` where it is missing; the server is started
with ``initdb`` + ``pg_ctl`` on a free loopback port (its unix socket in the temporary
folder, so it touches no system cluster) and stopped at the end of the session. PostgreSQL
refuses to run as root: when the tests run as root, the server runs as the ``postgres``
system user (made by the Debian package), which owns the temporary folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "cxtest"
PASSWORD = "s3cret-Pa55word"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `make test` installs Debian's postgresql"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running cluster: ``url(...)`` gives connection strings; ``admin()`` an ADBC connection."""

    def __init__(self):
        self.bin = _bin_dir()
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="cxlab-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if self.as_root:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        (self.folder / "pw").write_text(PASSWORD + "\n")
        if self.as_root:
            os.chown(self.folder / "pw", account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", self.data, "-U", USER, "-A", "scram-sha-256", "--pwfile", self.folder / "pw",
                  "-E", "UTF8", "--locale=C.UTF-8", "-N")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-w", "-t", "60", "-o", options, "start")

    def _run(self, program: str, *args) -> None:
        command = [str(self.bin / program), *map(str, args)]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder, timeout=120)
        if result.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr or result.stdout}"
                + (log.read_text()[-2000:] if log.exists() else "")
            )

    def url(self, schema: str | None = None, *, password: bool = True, db: str = "postgres") -> str:
        secret = f":{PASSWORD}" if password else ""
        query = f"?schema={schema}" if schema else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{db}{query}"

    def admin(self):
        import adbc_driver_postgresql.dbapi as pg

        return pg.connect(self.url(), autocommit=True)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def write_tables(server: Server, schema: str, tables: dict) -> None:
    """Create ``schema`` afresh and write each ``name → pyarrow.Table`` into it (ADBC bulk ingest)."""
    with server.admin() as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cur.execute(f'CREATE SCHEMA "{schema}"')
        for name, table in tables.items():
            cur.adbc_ingest(name, table, mode="create", db_schema_name=schema)
