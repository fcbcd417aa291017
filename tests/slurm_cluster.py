"""A real single-node SLURM cluster on localhost, for tests and benchmarks.

``slurm_cluster()`` installs Debian's ``slurm-wlm`` and ``munge`` when they are
missing (root and apt-get needed), writes a minimal ``slurm.conf`` whose state,
spool, log and pid files live in a temporary directory, starts ``munged`` (as
user munge), ``slurmctld`` and ``slurmd`` in the foreground, waits until the
node is idle and yields. On the way out it cancels the cluster's jobs and stops
every daemon it started, by PID, whatever happened inside the ``with`` block.

While the cluster runs, SLURM's default config path ``/etc/slurm/slurm.conf``
is a symlink to its config, so every SLURM command finds it. ``SLURM_CONF``
would not do: the Snakemake SLURM plugin's job step drops every ``SLURM_*``
variable before it calls ``srun`` inside the job. A machine that already has
a ``/etc/slurm/slurm.conf`` of its own is left alone (SlurmUnavailable).

Processes are tracked by process group (``proctrack/pgid``): with
``proctrack/linuxproc`` a cancelled job's batch-level Snakemake, orphaned when
its shell died, escaped the final SIGKILL and lived on.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

PACKAGES = ("slurm-wlm", "munge")
MUNGE_KEY = Path("/etc/munge/munge.key")
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
NODE = "localhost"
PARTITION = "debug"
#: Snakemake's SLURM executor trusts ``squeue`` only while finished jobs stay
#: listed for at least 3× its first status-check delay; keep them 5 minutes.
MIN_JOB_AGE = 300
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started on this machine; the message says why."""


class SlurmJob(NamedTuple):
    """One job as ``squeue`` lists it; Snakemake's SLURM plugin puts rule and wildcards in the comment."""

    id: str
    state: str
    cpus: int
    comment: str


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster: its temporary root, its ``slurm.conf`` and its one node's CPUs."""

    root: Path
    conf: Path
    cpus: int

    def jobs(self) -> list[SlurmJob]:
        """Every job the controller still lists (finished ones for MinJobAge seconds)."""
        out = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i|%T|%C|%k"], capture_output=True,
                             text=True, check=True, timeout=30).stdout
        jobs = [line.split("|", 3) for line in out.splitlines() if line.count("|") >= 3]
        return [SlurmJob(job, state, int(cpus), comment) for job, state, cpus, comment in jobs]


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path.name} missing)"


def _ensure_installed() -> None:
    """Install slurm-wlm and munge with apt-get unless their commands are already there."""
    if all(_which(cmd) for cmd in ("slurmctld", "slurmd", "sbatch", "squeue", "munged", "mungekey")):
        return
    if not _which("apt-get"):
        raise SlurmUnavailable("slurm-wlm/munge are not installed and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        try:
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SlurmUnavailable(f"{' '.join(cmd)}: {exc}") from None
        if result.returncode != 0:
            why = result.stderr.strip()[-500:]
            raise SlurmUnavailable(f"{' '.join(cmd)} failed ({result.returncode}): {why}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_mem_mb() -> int:
    """90 % of the machine's memory, so that slurmd never finds less than configured."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)


def _write_config(root: Path, cpus: int, mem_mb: int) -> Path:
    """A minimal slurm.conf: no accounting, no cgroups, one node and one default partition."""
    for sub in ("state", "spool", "log", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text(f"""\
ClusterName=evosynth
SlurmctldHost={NODE}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root / "munge" / "munge.socket"}
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "run" / "slurmctld.pid"}
SlurmdPidFile={root / "run" / "slurmd.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd.log"}
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
KillWait=5
InactiveLimit=0
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _link_default_config(conf: Path) -> None:
    """Make ``DEFAULT_CONF`` a symlink to ``conf``, replacing only a dangling one left by a killed run."""
    if DEFAULT_CONF.is_symlink() and not DEFAULT_CONF.exists():
        DEFAULT_CONF.unlink()
    if DEFAULT_CONF.exists():
        raise SlurmUnavailable(f"{DEFAULT_CONF} exists (this machine's own SLURM, or another test cluster):"
                               " not touching it")
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.symlink_to(conf)


def _unlink_default_config(conf: Path) -> None:
    if DEFAULT_CONF.is_symlink() and DEFAULT_CONF.readlink() == conf:
        DEFAULT_CONF.unlink()


def _ensure_munge_key() -> None:
    if MUNGE_KEY.exists():
        return
    MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_which("mungekey"), "--create", f"--keyfile={MUNGE_KEY}"], check=True,
                   capture_output=True, timeout=60)
    munge = pwd.getpwnam("munge")
    os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
    MUNGE_KEY.chmod(0o400)


def _start_munged(root: Path) -> subprocess.Popen:
    """munged as user munge, with its socket, pid, seed and log under ``root/munge``."""
    _ensure_munge_key()
    munge = pwd.getpwnam("munge")
    home = root / "munge"
    home.mkdir(mode=0o755)
    os.chown(home, munge.pw_uid, munge.pw_gid)
    cmd = [_which("munged"), "--foreground", f"--key-file={MUNGE_KEY}", f"--socket={home / 'munge.socket'}",
           f"--pid-file={home / 'munged.pid'}", f"--seed-file={home / 'munged.seed'}",
           f"--log-file={home / 'munged.log'}"]
    with open(root / "log" / "munged.out", "wb") as log:
        return subprocess.Popen(cmd, user=munge.pw_uid, group=munge.pw_gid, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _start(cmd: list[str], out: Path) -> subprocess.Popen:
    with open(out, "wb") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(ready: Callable[[], bool], what: str, procs: list[subprocess.Popen], logs: list[Path],
              timeout: float = 60) -> None:
    """Poll ``ready`` until it holds; fail with the daemons' logs if one dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            why = (f"{Path(dead[0].args[0]).name} exited with {dead[0].returncode}" if dead
                   else f"timed out after {timeout:.0f} s")
            tails = "\n".join(f"--- {log.name}:\n{_tail(log)}" for log in logs)
            raise SlurmUnavailable(f"waiting for {what}: {why}\n{tails}")
        time.sleep(0.5)


def _succeeds(cmd: list[str]) -> Callable[[], bool]:
    return lambda: subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0


def _node_idle() -> bool:
    result = subprocess.run(["sinfo", "-h", "-N", "-n", NODE, "-o", "%t"], capture_output=True, text=True,
                            timeout=30)
    return result.returncode == 0 and result.stdout.strip() == "idle"


def _cancel_all_jobs(cluster: SlurmCluster) -> None:
    """Cancel whatever still runs, so that no job step outlives its slurmd."""
    try:
        active = ("PENDING", "CONFIGURING", "RUNNING", "SUSPENDED")
        ids = [job.id for job in cluster.jobs() if job.state in active]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(job.state in (*active, "COMPLETING")
                                                  for job in cluster.jobs()):
            time.sleep(1)
    except (subprocess.SubprocessError, OSError):
        pass  # the controller is gone already: its daemons are stopped next


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the daemon's PID, SIGKILL if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def slurm_cluster(cpus: int = 2) -> Iterator[SlurmCluster]:
    """Install (if needed) and run a one-node cluster; raise SlurmUnavailable if that fails."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("a test cluster needs root (apt-get, munged as user munge,"
                               f" {DEFAULT_CONF})")
    _ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="evosynth-slurm-"))
    root.chmod(0o755)  # munged runs as user munge and must reach its directory
    cluster = SlurmCluster(root, _write_config(root, cpus, _node_mem_mb()), cpus)
    procs: list[subprocess.Popen] = []
    logs = [root / "munge" / "munged.log", root / "log" / "slurmctld.log", root / "log" / "slurmctld.out",
            root / "log" / "slurmd.log", root / "log" / "slurmd.out"]
    try:
        try:
            _link_default_config(cluster.conf)
            procs.append(_start_munged(root))
            _wait_for((root / "munge" / "munge.socket").exists, "munged", procs, logs[:1])
            procs.append(_start([_which("slurmctld"), "-D", "-i"], logs[2]))
            _wait_for(_succeeds(["scontrol", "ping"]), "slurmctld", procs, logs[1:3])
            procs.append(_start([_which("slurmd"), "-D", "-N", NODE], logs[4]))
            _wait_for(_node_idle, f"node {NODE} to be idle", procs, logs[1:])
        except (OSError, KeyError, subprocess.SubprocessError) as exc:  # e.g. no user munge, a port taken
            raise SlurmUnavailable(f"starting SLURM failed: {exc!r}") from exc
        yield cluster
    finally:
        if len(procs) == 3:
            _cancel_all_jobs(cluster)
        for proc in reversed(procs):
            _stop(proc)
        _unlink_default_config(cluster.conf)
        shutil.rmtree(root, ignore_errors=True)
