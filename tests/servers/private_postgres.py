"""A throw-away PostgreSQL cluster that a test may stop and start at will."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.processes import free_port


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise AssertionError("PostgreSQL binaries missing: scripts/postgres.sh start installs them")
    return versions[-1]


def _as_owner(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PrivatePostgres:
    base: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://mcp@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.base / "data"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(_pg_bin() / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        log = str(self.base / "postgres.log")
        self._pg_ctl("-l", log, "-w", "-t", "60", "-o", f"-p {self.port} -k {self.base}", "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster's pid and its children's (backends, checkpointer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The parent pid is the 2nd field after the ")" that closes the name.
                parent = int(stat.read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """Stop every process of the cluster, as a network partition looks to a client:
        connections stay open and nothing answers."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def create_private_postgres() -> PrivatePostgres:
    """initdb a trust-auth cluster on a free port under /tmp and start it."""
    # Outside pytest's tmp dirs: those are private to root and the postgres user must write here.
    base = Path(tempfile.mkdtemp(prefix="mcp-pg-outage-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    cluster = PrivatePostgres(base=base, port=free_port())
    subprocess.run(
        _as_owner([str(_pg_bin() / "initdb"), "-D", str(cluster.data), "-U", "mcp", "-A", "trust"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write("listen_addresses = '127.0.0.1'\nfsync = off\n")
    cluster.start()
    return cluster
