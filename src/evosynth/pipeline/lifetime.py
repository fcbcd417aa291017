"""A step lives no longer than the engine that started it, and writes nothing once that engine is gone.

DVC runs a stage's command with ``/bin/sh -c``, and dash executes a simple
command in place, so the step's parent is DVC itself (a process with several
threads). Snakemake runs ``bash -c 'set -euo pipefail; …'``: the step's parent
is that shell, whose parent is Snakemake. A SIGKILL of the engine alone (``kill
-9 <pid>``, the out-of-memory killer) skips its cleanup: the shell and the step
are orphaned, and the step would train on and rewrite its outputs after the
next run of the engine had recorded them.

So a step started as a program (:func:`hold`) lists its *keepers*: its parent
and each ancestor above it, up to and including the engine, the first ancestor
that is neither a ``<shell> -c`` nor ``time`` or ``timeout`` (:func:`keepers`). A shell without ``-c``
(a terminal, a script) ends the list instead: a command typed at a terminal
lives by the terminal's hang-up signal, as any command does, and ``nohup``
keeps working. A thread waits on a pidfd of every keeper (Linux 5.3 and later;
before, it reads ``/proc`` every half second; without ``/proc`` nothing is
watched) and ends the step with SIGKILL the moment one exits; and
every artifact write first checks that they all live
(:mod:`evosynth.guards`), so a write under way when the engine
died does not land either.

``PR_SET_PDEATHSIG`` alone would not do: the kernel sends it when the *thread*
that forked the step exits (a worker thread of a live engine would kill its
step) and only for the parent (Snakemake's shell outlives Snakemake). The step
asks for it only where its parent is a single-threaded process, as a second
line that needs no Python thread.

A fork of the warm server is a step whose keepers are its caller's keepers and
the caller itself: the caller hands them on in the environment it sends
(:func:`handed_on`, :func:`hold_handed`), besides the fork's own watch on its
caller's socket (:mod:`evosynth.pipeline.warm`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evosynth.guards import guard_writes

#: Shells that engines start steps with (``sh -c``, ``bash -c``): not engines themselves.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})
#: Programs that run one command and wait for it (``time evosynth …``): watched and passed, like ``sh -c``.
WRAPPERS = frozenset({"time", "timeout"})
POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1
#: How a caller hands its keepers, and itself, to the warm server's fork that runs its step (in the
#: environment it sends along).
HANDED = "EVOSYNTH_KEEPERS"


@dataclass(frozen=True)
class Keeper:
    """A process a step must not outlive; ``start`` (clock ticks since boot) tells it from a reused pid."""

    pid: int
    start: int
    name: str

    @classmethod
    def of(cls, pid: int, name: str) -> Keeper | None:
        """The live process ``pid`` as a keeper; None if there is none."""
        stat = _stat(pid)
        return None if stat is None else cls(pid, stat[2], name)

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[0] not in "ZX" and stat[2] == self.start


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from ``/proc/<pid>/stat``; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _argv(pid: int) -> list[str]:
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def _is_shell(argv: list[str]) -> bool:
    return bool(argv) and os.path.basename(argv[0]) in SHELLS


def _runs_a_command(argv: list[str]) -> bool:
    """``sh -c …``, ``bash -ec …``: a shell that runs one command line for a program."""
    for arg in argv[1:]:
        if not arg.startswith("-"):
            return False  # a script's name: options end there
        if not arg.startswith("--") and "c" in arg:
            return True
    return False


def _name(argv: list[str]) -> str | None:
    """``dvc`` for ``python …/bin/dvc repro``: the program, not its interpreter."""
    names = [os.path.basename(a) for a in argv[:2]]
    return names[1] if len(names) > 1 and names[0].startswith("python") and not argv[1].startswith("-") else (
        names[0] if names else None)


def keepers(pid: int | None = None) -> list[Keeper]:
    """The processes a step ``pid`` (default: this one) must not outlive, its parent first, its engine last."""
    found: list[Keeper] = []
    stat = _stat(os.getpid() if pid is None else pid)
    parent = stat[1] if stat else 0
    while parent > 1:
        stat, argv = _stat(parent), _argv(parent)
        if stat is None:
            break
        shell, wrapper = _is_shell(argv), bool(argv) and os.path.basename(argv[0]) in WRAPPERS
        if shell and not _runs_a_command(argv):
            break  # a terminal or a script: not an engine, and what started it is none of the step's business
        found.append(Keeper(parent, stat[2], _name(argv) or str(parent)))
        if not (shell or wrapper):
            break  # the engine
        parent = stat[1]
    return found


def _end(gone: Keeper, say: bool) -> None:
    """A keeper is gone: say so in one line (if anyone still reads) and die at once, as a killed step does."""
    if say:
        command = os.path.basename(sys.argv[0]) + (f" {sys.argv[1]}" if len(sys.argv) > 1 else "")
        line = (f"{command}: stopped: {gone.name} (pid {gone.pid}), which started this step, has exited;"
                " nothing more is written\n")
        try:
            os.write(2, line.encode())
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


class _Watch:
    """The keepers of this process, watched by a thread and checked before every artifact write."""

    def __init__(self, held: list[Keeper], say: bool) -> None:
        self.held, self.say = held, say
        self.fds: dict[int, Keeper] = {}
        for keeper in held:
            try:
                self.fds[os.pidfd_open(keeper.pid)] = keeper  # type: ignore[attr-defined]
            except (AttributeError, OSError):
                pass  # gone already (checked below) or no pidfds here: polled instead
        self.polled = [k for k in held if k not in self.fds.values()]
        self.check()  # a keeper gone (or its pid reused) before its pidfd was opened ends the step now

    def check(self) -> None:
        for keeper in self.held:
            if not keeper.alive():
                _end(keeper, self.say)

    def wait(self) -> None:
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, select.POLLIN)
        while True:
            for fd, _ in poller.poll(POLL_SECONDS * 1000 if self.polled else None):
                _end(self.fds[fd], self.say)
            self.check()


def _pdeathsig(held: list[Keeper]) -> None:
    """Ask the kernel for SIGKILL when the parent exits, where its forking thread is the whole parent."""
    if not held or not sys.platform.startswith("linux"):
        return
    try:
        threads = next(line for line in Path(f"/proc/{held[0].pid}/status").read_text().splitlines()
                       if line.startswith("Threads:"))
        if int(threads.split()[1]) != 1:
            return
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, StopIteration, ValueError, AttributeError):
        return


def hold(held: list[Keeper] | None = None, say: bool = True) -> list[Keeper]:
    """Tie this process to its keepers (default: :func:`keepers`); return them. Without /proc: nothing.

    ``say``: print why when ending (a warm fork leaves that to its caller, which shares its stderr).
    """
    if not Path("/proc/self/stat").exists():
        return []
    held = keepers() if held is None else held
    if held and held[0].pid == os.getppid():
        _pdeathsig(held)
    watch = _Watch(held, say)
    if held:
        guard_writes(watch.check)
        threading.Thread(target=watch.wait, name="evosynth-keepers", daemon=True).start()
    return held


@contextmanager
def handed_on() -> Iterator[None]:
    """While this process hands its step to a warm server: its keepers and itself, in its environment."""
    me = Keeper.of(os.getpid(), "evosynth")
    os.environ[HANDED] = json.dumps([vars(k) for k in (*keepers(), me) if k is not None])
    try:
        yield
    finally:
        os.environ.pop(HANDED, None)


def hold_handed() -> None:
    """In a warm server's fork: hold the keepers its caller handed on (nothing if none were)."""
    handed = os.environ.pop(HANDED, None)
    if handed:
        hold([Keeper(**k) for k in json.loads(handed)], say=False)  # the caller says why, on the same stderr
