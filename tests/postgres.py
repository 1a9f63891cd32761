"""A real PostgreSQL server for the tests (a pytest plugin, registered by conftest): Debian's `postgresql` package
binaries, a throw-away cluster in a temporary folder, listening on a free port of 127.0.0.1 only, trust auth.

initdb and postgres refuse to run as root, so as root (here and in CI) the cluster belongs to, and the server
runs as, Debian's `postgres` system user; as any other user they run as that user.
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

import pytest

USER = "automl"  # the cluster's superuser, trusted from 127.0.0.1
DATABASE = "studies"
START_TIMEOUT_S = 60
PORT_TRIES = 5
INSTALL = "apt-get install postgresql"


def binaries() -> Path | None:
    """The newest installed server's bin folder (/usr/lib/postgresql/<major>/bin), or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
             if (Path(p).parent / "pg_ctl").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, bin_dir: Path, folder: Path, as_user: list[str]):
        self.bin, self.folder, self.as_user = bin_dir, folder, as_user
        self.data, self.log = folder / "data", folder / "server.log"
        self.port: int | None = None

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=START_TIMEOUT_S)
        if done.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", USER, "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """On a free port; another process may take the port between the probe and the bind, so a few tries."""
        for attempt in range(PORT_TRIES):
            self.port = free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                          "-t", str(START_TIMEOUT_S), "start")
                return
            except RuntimeError:
                if attempt + 1 == PORT_TRIES:
                    raise

    def create_database(self, name: str) -> None:
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
                       check=True, capture_output=True, timeout=START_TIMEOUT_S)

    def stop(self) -> None:
        if self.port is not None:
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                            "stop"], capture_output=True, timeout=START_TIMEOUT_S)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_url():
    """A SQLAlchemy URL of an empty database on a PostgreSQL server that lives as long as the test session."""
    pytest.importorskip("psycopg2", reason="the psycopg2 driver (pip install psycopg2-binary) is needed")
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: {INSTALL}")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="automl-postgres-"))  # under /tmp: a folder `postgres` can reach
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"root cannot run PostgreSQL and Debian's `postgres` user is missing: {INSTALL}")
        if not shutil.which("runuser"):
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip("runuser (util-linux) is needed to run PostgreSQL as the `postgres` user")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = Server(bin_dir, folder, as_user)
    try:
        server.init()
        server.start()
        server.create_database(DATABASE)
        yield server.url(DATABASE)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

