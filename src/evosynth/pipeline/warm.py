"""A warm interpreter for step commands: torch is imported once, each step runs in a fork of it.

Every DVC stage and Snakemake job is a fresh ``evosynth <step>`` process, and
``import torch`` alone takes about 2 s of CPU on this project's machines —
more than most steps compute (an encode step computes for 0.04 s). The
default pipeline has some 350 steps, so start-up would dominate its wall time.

So the ``evosynth`` command, once its arguments and params are validated,
hands the step to a local server that has already imported torch and
evosynth: the server forks, the fork takes over the caller's working folder,
environment, umask and standard streams (passed as file descriptors over a
Unix socket), runs the very same ``evosynth.pipeline.cli.main`` and sends back its exit
status. The caller stays in the foreground as the step's process for the
engine: its exit status, output and log are the step's. If the caller dies
(SIGKILL by the engine, Ctrl-C), the fork sees its socket close and exits at
once, as the step itself would have died.

The fork takes the caller's nice value, CPU affinity, cgroups (writing its
pid into their ``cgroup.procs``) and so its thread budget (torch's threads
shrink to the caller's CPUs, as in a fresh process); a fork that cannot
(a lower nice value needs privileges, a cgroup may not be writable) refuses
and the caller runs the step itself: no step escapes nice, taskset or a cgroup.

The server is keyed by what decides the code it runs (:mod:`evosynth.pipeline.warmkey`:
the checkout, its sources, the interpreter, the installed distributions, the
import-time environment and the numerics), so checkouts and users never share
one; before each step it checks that no file it imported changed, else it
hands the step back to its caller and exits. It never imports from the
caller's folder (:func:`server_command`). A client talks only to a server of
its own uid (checked on the socket with ``SO_PEERCRED``). A server exits after
``IDLE_SECONDS`` without work. No server is used when ``EVOSYNTH_WARM=0``,
inside SLURM jobs (a step must run inside its job's own process tree, cgroup
and accounting), or where the platform lacks Unix sockets with descriptor
passing; if a server cannot be reached the step simply runs in its own process.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

from evosynth.pipeline.limits import limits, take_limits
from evosynth.pipeline.warmkey import PACKAGE, changed_files, loaded_files, server_key

IDLE_SECONDS = 300.0
START_TIMEOUT = 60.0
#: The exit status a fork sends when it cannot take the caller's limits: the caller runs the step itself.
REFUSED = -(2**31)
OFF = ("0", "off", "no", "false")
HEADER = struct.Struct("!Q")
#: What the server imports before it forks: torch and evosynth, and what steps import lazily
#: (an optimizer's first use imports torch._dynamo, 2.5 s; compaction imports Torch-Pruning;
#: reports matplotlib; exports onnx; the feature analysis scikit-learn).
PRELOAD = (
    "torch", "torch._dynamo", "torch_pruning", "matplotlib.pyplot", "onnx", "onnxruntime", "sklearn.manifold",
    "evosynth.pipeline.cli", "evosynth.pipeline.steps",
)


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether this process should hand its step to a warm server."""
    environ = os.environ if environ is None else environ
    return (
        environ.get("EVOSYNTH_WARM", "1").lower() not in OFF
        and "SLURM_JOB_ID" not in environ
        and hasattr(socket, "AF_UNIX")
        and hasattr(socket, "send_fds")
        and hasattr(os, "fork")
    )


def socket_path(key: str) -> Path:
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return folder / f"evosynth-warm-{os.getuid()}-{key}.sock"


# --------------------------------------------------------------------- client
def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    if hasattr(socket, "SO_PEERCRED"):  # only a server of our own user gets our streams and environment
        _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if uid != os.getuid():
            sock.close()
            return None
    return sock


def server_command(path: Path) -> list[str]:
    """Start a server on ``path`` without the caller's folder on ``sys.path`` (``-m`` puts it first, where a
    folder named ``evosynth/`` would shadow the package; ``-P`` leaves it out, ``-c`` before 3.11 drops it),
    telling it the package this client runs, which it must run too."""
    if sys.version_info >= (3, 11):
        start = ["-P", "-m", "evosynth.pipeline.serve"]
    else:  # pragma: no cover - the project's venv is 3.11
        start = ["-c", "import sys; sys.path[:] = [p for p in sys.path if p]; from evosynth.pipeline import serve;"
                       " serve.main()"]
    return [sys.executable, *start, str(path), str(PACKAGE)]


def _start_server(path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        server_command(path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not part of the engine's process group: it outlives this step
        close_fds=True,
    )


def _reach_server(path: Path) -> socket.socket | None:
    sock = _connect(path)
    if sock is not None:
        return sock
    server = _start_server(path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(0.05)
        sock = _connect(path)
        if sock is not None or server.poll() is not None:  # a server that exited will not answer
            return sock
    return None


def run_warm(argv: Sequence[str]) -> int | None:
    """Run ``evosynth argv`` in a fork of the warm server; its exit status, or None if no server answered."""
    sock = _reach_server(socket_path(server_key()))
    if sock is None:
        return None
    request = json.dumps(
        {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask(), "limits": limits()}
    ).encode()
    with sock:
        try:
            socket.send_fds(sock, [HEADER.pack(len(request))], [0, 1, 2])
            sock.sendall(request)
        except OSError:
            return None  # the server went away (idle exit) between connect and send: run here
        status = _recv_exactly(sock, 4)
    if status is None:
        print("evosynth: the warm worker running this step died without an exit status", file=sys.stderr)
        return 1
    code = struct.unpack("!i", status)[0]
    return None if code == REFUSED else code


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# --------------------------------------------------------------------- server
def _read_request(conn: socket.socket) -> tuple[dict, list[int]] | None:
    """The caller's request and its standard streams' descriptors; None if it went away before it finished asking."""
    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
    rest = _recv_exactly(conn, HEADER.size - len(header))
    body = None if rest is None else _recv_exactly(conn, HEADER.unpack(header + rest)[0])
    return None if body is None else (json.loads(body), fds)


def _refuse(conn: socket.socket) -> None:
    """Hand the request back: the caller runs the step in its own process."""
    try:
        conn.settimeout(10)
        asked = _read_request(conn)
        for fd in asked[1] if asked else ():
            os.close(fd)
        conn.sendall(struct.pack("!i", REFUSED))
    except OSError:
        pass  # the caller is gone, or it sees the closed socket and runs the step itself
    finally:
        conn.close()


def _run_request(conn: socket.socket, handler: Callable[[list[str]], int]) -> None:
    """In the fork: become the caller's step, run it, report the exit status."""
    asked = _read_request(conn)
    if asked is None:  # the caller went away before it finished asking: nothing to run
        os._exit(1)
    request, fds = asked
    if not take_limits(request["limits"]):
        conn.sendall(struct.pack("!i", REFUSED))  # the caller runs the step in its own process
        os._exit(0)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # The caller's streams, kept open; line-buffered, or progress would wait for the step's end.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["EVOSYNTH_WARM"] = "0"  # this fork is the step: it must not delegate again
    os.umask(request["umask"])
    threading.Thread(target=_die_with_caller, args=(conn,), daemon=True).start()
    sys.argv = ["evosynth", *request["argv"]]
    try:
        code = handler(request["argv"])
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:  # noqa: BLE001 - report like an uncaught exception in a fresh process
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(struct.pack("!i", code))


def _die_with_caller(conn: socket.socket) -> None:
    """The caller closes the socket only by exiting: the step dies with it."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    os._exit(1)


def serve(path: Path, handler: Callable[[list[str]], int], idle: float = IDLE_SECONDS,
          package: Path = PACKAGE) -> None:
    """Import the heavy modules, listen on ``path``, fork one child per step until idle.

    Each child becomes its caller's step and runs ``handler(argv)`` (the CLI's ``main``,
    given by :mod:`evosynth.pipeline.serve`: this module does not import the CLI).
    Serves nothing unless this process's evosynth is ``package`` (the client's);
    stops serving (handing the request back) once a file it imported changed.
    """
    if PACKAGE != package.resolve():  # not the code the client's key covers
        return
    # like the `evosynth` script, import nothing from the folder it was started in
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    os.chdir("/")
    os.environ.setdefault("MPLBACKEND", "Agg")  # reports draw to files; the steps say so too
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional extra: the step imports (and reports) it itself
            pass
    loaded = loaded_files()

    staging = path.with_name(f"{path.name}.{os.getpid()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(staging))
    listener.listen(64)
    os.replace(staging, path)  # appear only when warm; a concurrent starter's server loses the name
    mine = path.stat().st_ino
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener.settimeout(idle)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                return
            if changed_files(loaded):  # an installed package was edited: its new code needs a new process
                _refuse(conn)
                return
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # steps wait for their own subprocesses
                try:
                    _run_request(conn, handler)
                finally:
                    os._exit(0)
            conn.close()
            if not path.exists() or path.stat().st_ino != mine:
                return  # another server took the name: leave it the work
    finally:
        listener.close()
        if path.exists() and path.stat().st_ino == mine:
            path.unlink()

