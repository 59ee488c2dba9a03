"""A throwaway PostgreSQL server from Debian's ``postgresql`` package, for the sweep's storage tests.

``initdb`` into a temporary folder, ``pg_ctl start`` on 127.0.0.1 at a free port with password
(scram) login, a role and a database; stopped and removed on the way out, also when the test fails.
PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to the package's ``postgres``
system user and its commands run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..servers import TestServer

USER, PASSWORD, DATABASE = "fmnist", "sweep-test-password", "sweeps"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer(TestServer):
    """``with PostgresServer() as pg: pg.url`` → ``postgresql://fmnist:…@127.0.0.1:PORT/sweeps``."""

    def __init__(self) -> None:
        super().__init__()
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is missing: make postgres (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
        self.data = self.folder / "data"
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run(prefix + list(command), capture_output=True, text=True, timeout=120,
                              check=check, cwd=self.folder)

    def start(self) -> None:
        (self.folder / "password").write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(self.folder / "password", "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
                  f"--pwfile={self.folder / 'password'}", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                        DATABASE], check=True, env=env, capture_output=True, timeout=60)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and remove its folder."""
        if self.data.exists():
            for mode in ("fast", "immediate"):
                done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                                 "-t", "30", "stop", check=False)
                if done.returncode == 0 or not self.running():
                    break
        shutil.rmtree(self.folder, ignore_errors=True)
