"""``dvc repro`` with one summary line for the stages that did not change, instead of one line each.

    python workflow/scripts/repro.py                  # = dvc repro, quiet about unchanged stages
    python workflow/scripts/repro.py report-quick     # any arguments of dvc repro, passed on as they are

DVC logs "Stage '<name>' didn't change, skipping" at INFO level for every
unchanged stage (441 lines for a no-op of the default target), and its only
switch, ``dvc repro -q``, silences everything, the error of a failing stage
included. This runs DVC's own command line in this process and drops just
those records (a :class:`logging.Filter` on DVC's stage logger); at the end it
prints, on one line, how many unchanged stages it skipped in how many pipeline files. Stages
that run, warnings and errors print as DVC prints them; with ``-v`` nothing is
dropped. The exit status is DVC's.

Called with targets only (no options) from the project's root, a no-op is answered from a stamp
when no file DVC would check has changed since the last run DVC found entirely up to date
(``uptodate.py`` beside this script says what is watched); ``dvc repro`` itself always asks DVC.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path

import uptodate

#: The messages DVC's stage logger writes for an unchanged stage (a pipeline stage, a .dvc file).
SKIPPED = ("Stage '%s' didn't change, skipping", "'%s' didn't change, skipping")


class Unchanged(logging.Filter):
    """Drops DVC's "didn't change, skipping" records and counts them per pipeline file."""

    def __init__(self) -> None:
        super().__init__()
        self.files: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in SKIPPED or not record.args:
            return True
        address = str(record.args[0])
        self.files[address.rsplit(":", 1)[0] if ":" in address else "dvc.yaml"] += 1
        return False

    def summary(self) -> str:
        """One line, e.g. ``441 unchanged stages skipped in 22 pipeline files``."""
        total, files = sum(self.files.values()), len(self.files)
        return f"{total} unchanged stage{'s' * (total != 1)} skipped in {files} pipeline file{'s' * (files != 1)}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "-v", "--verbose") or a.startswith("-v") and set(a[1:]) == {"v"} for a in argv):
        from dvc.cli import main as dvc_main

        return dvc_main(["repro", *argv])
    root = Path.cwd()
    stamped = (root / ".dvc").is_dir() and not any(a.startswith("-") for a in argv)
    summary = uptodate.unchanged(root, argv) if stamped else None
    if summary is not None:
        print("Data and pipelines are up to date.")
        print(f"{summary} (no watched file changed since DVC last found them so; `dvc repro` asks DVC again)")
        return 0
    started = uptodate.now_ns()
    import dvc.stage
    from dvc.cli import main as dvc_main

    unchanged = Unchanged()
    dvc.stage.logger.addFilter(unchanged)
    try:
        code = dvc_main(["repro", *argv])
    finally:
        dvc.stage.logger.removeFilter(unchanged)
    if unchanged.files and "-q" not in argv and "--quiet" not in argv:
        print(unchanged.summary())
    if stamped and code == 0 and unchanged.files:
        uptodate.write(root, argv, unchanged.summary(), started)
    return code


if __name__ == "__main__":
    sys.exit(main())
