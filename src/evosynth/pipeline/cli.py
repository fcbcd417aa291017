"""The ``evosynth`` command: one subcommand per workflow step, a registry over the steps.

DVC's ``cmd:`` and Snakemake's ``shell:`` call exactly these commands (see
:mod:`evosynth.pipeline.plan`). Every subcommand validates ``params.yaml`` before any
compute and reports a problem as one line, exiting non-zero; then it runs
``main(params, args)`` of the step's module (:mod:`evosynth.pipeline.commands`
names it), in this process or in a fork of the warm server.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from typing import Any, Sequence

from evosynth import __version__
from evosynth.artifacts import all_or_nothing, write_json
from evosynth.errors import DataError, EvosynthError, ParamsError
from evosynth.pipeline import checkout, codedeps, lifetime, numerics, warm
from evosynth.pipeline.commands import COMMANDS, DEVICE_RUNTIME, literal
from evosynth.pipeline.params import chain_generations, load_params, training_spec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evosynth",
        description="Evolutionary synthesis of small, fast deep neural networks"
        " (EvoNet and its successors). Each subcommand is one step of a generation;"
        " `dvc repro` or `snakemake` chain them as described by params.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"evosynth {__version__}")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("EVOSYNTH_THREADS", "0")) or None,
        help=literal("CPU threads for torch with `numerics: native` (default: $EVOSYNTH_THREADS, else torch's"
                     " default); portable numerics pin them (docs/numerics.md)."),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="STEP")
    for command in COMMANDS.values():
        command.add_to(sub)
    return parser


def _check_target(params: dict[str, Any], args: argparse.Namespace) -> None:
    chains = [*params["experiments"], *params["baselines"]]
    if getattr(args, "experiment", None) is not None and args.experiment not in chains:
        raise ParamsError(f"--experiment: {args.experiment!r} is not in params.yaml; allowed: {', '.join(chains)}")
    if getattr(args, "dataset", None) is not None and args.dataset not in params["datasets"]:
        raise ParamsError(f"--dataset: {args.dataset!r} is not in params.yaml; allowed: {', '.join(params['datasets'])}")
    generation = getattr(args, "generation", None)
    if generation is not None:
        last = chain_generations(params, args.experiment)
        if not 0 <= generation <= last:
            raise ParamsError(f"--generation: {generation} is outside 0..{last} of experiment {args.experiment!r}")
    member = getattr(args, "member", None)
    if member is not None:
        size = training_spec(params, args.experiment)["population"]["size"]
        if not 0 <= member < size:
            raise ParamsError(f"--member: {member} is outside 0..{size - 1} of experiment {args.experiment!r}")


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run one step here, or in a fork of the warm server (:mod:`evosynth.pipeline.warm`); its exit status."""
    if args.command == "runtime" and args.model is not None:  # device mode: onnxruntime and numpy only
        importlib.import_module(DEVICE_RUNTIME).main(args)
        return 0
    params = load_params(args.params, check_files=args.command in ("check", "prepare"))
    _check_target(params, args)
    if args.command == "check":
        print(f"{args.params}: valid ({len(params['experiments'])} experiments, {len(params['datasets'])} datasets)")
        return 0
    if args.command == "handover":  # runs the engines in the project of params.yaml; no stage runs this code,
        # so it is imported by name and stays out of the steps' code records (codedeps follows import statements)
        importlib.import_module("evosynth.pipeline.handover").main(args.to, args.params.resolve().parent)
        return 0
    if args.command == "code":  # light: hashes files, imports no torch
        try:
            record = codedeps.fingerprint(args.module)
        except ValueError as exc:
            raise ParamsError(str(exc)) from None
        write_json(args.out_dir / f"{args.module}.json", record)
        return 0
    checkout.check()  # the code that runs is the checkout's (or none is here)
    mode = numerics.apply(numerics.mode_of(params, args.command))  # before torch loads
    if warm.enabled():  # a server started with that environment (its key includes it)
        with lifetime.handed_on():  # the fork running the step dies with this process and its engine
            code = warm.run_warm(argv)
        if code is not None:
            return code
    import torch  # after validation: bad input fails fast

    numerics.pin_torch(mode, args.threads)
    if os.environ.get("EVOSYNTH_LIMITS_RECORD"):  # for tests: the limits the step really runs under
        write_json(os.environ["EVOSYNTH_LIMITS_RECORD"],
                   {"pid": os.getpid(), "ppid": os.getppid(), "threads": torch.get_num_threads(),
                    "capability": torch.backends.cpu.get_cpu_capability(), "onednn": torch.backends.mkldnn.enabled,
                    **warm.limits()})
    with all_or_nothing():  # a failed step leaves none of its outputs behind
        importlib.import_module(COMMANDS[args.command].module).main(params, args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evosynth`` program (``argv`` None: it dies with the engine that started it), or a call."""
    if argv is None:
        lifetime.hold()
    else:  # a call: in a warm server's fork, the keepers its caller handed on
        lifetime.hold_handed()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return run(args, argv)
    except ParamsError as exc:
        print(f"evosynth: error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:  # bad input too: a dataset the user gave, not in an accepted form
        print(f"evosynth {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except EvosynthError as exc:
        print(f"evosynth {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk outside the artifact writers (which say so themselves)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"evosynth {args.command}: error: {exc.filename or 'a file'}: could not be written ({exc.strerror});"
              " free space there and rerun", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
