"""Every ``--help`` of the ``evosynth`` command prints, the top level and each step of the registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evosynth.pipeline.cli import _parser
from evosynth.pipeline.commands import COMMANDS, Arg, Command, literal

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_top_level_help_lists_every_step(capsys):
    text = _help([], capsys)
    assert text.startswith("usage: evosynth")
    assert [name for name in COMMANDS if name not in text] == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_step_help_prints_its_text_as_written(name, capsys):
    text = " ".join(_help([name], capsys).split())  # argparse rewraps lines
    assert text.startswith(f"usage: evosynth {name}")
    assert " ".join(COMMANDS[name].help.split()) in text  # "95 % t interval" stays "95 % t"
    for a in COMMANDS[name].args:
        if "help" in a.options:
            assert " ".join(a.options["help"].split()) in text


def test_a_percent_sign_in_any_help_text_is_printed_literally():
    command = Command("demo", "100 % of the synapses, %(prog)s and %d stay text", "check", experiment=False,
                      generation=False, out_dir=False,
                      args=(Arg("--rate", {"help": "in % (default %(default)s is text too)"}),))
    import argparse

    parser = argparse.ArgumentParser(prog="demo-top")
    command.add_to(parser.add_subparsers())
    assert "100 % of the synapses, %(prog)s and %d stay text" in parser.format_help()
    sub = parser._subparsers._group_actions[0].choices["demo"]  # the subparser as built
    assert "in % (default %(default)s is text too)" in " ".join(sub.format_help().split())
    assert literal("5 %") == "5 %%"


def test_evosynth_help_runs_as_a_command():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    for argv in (["--help"], ["evidence", "--help"]):
        result = subprocess.run([str(BIN / "evosynth"), *argv], capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert "usage: evosynth" in result.stdout
