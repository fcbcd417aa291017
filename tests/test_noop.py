"""A quiet no-op ``dvc repro`` (workflow/scripts/repro.py) and the side-by-side no-op benchmark, on small DVC projects."""

from __future__ import annotations

import sys
import time

import pytest
import yaml
from conftest import BIN, ROOT, run

sys.path.insert(0, str(ROOT / "benchmarks"))
import noop_cost

DVC = str(BIN / "dvc")
QUIET = [sys.executable, str(ROOT / "workflow" / "scripts" / "repro.py")]
#: Two pipeline files as the project has them: the root dvc.yaml and one under pipelines/.
FILES = {"dvc.yaml": [(1, 1, 0)] * 3, "pipelines/a/dvc.yaml": [(3, 2, 2)] * 4}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return noop_cost.build_twin(tmp_path_factory.mktemp("noop") / "project", FILES, same_shape=True)


def test_the_twin_has_the_layout_it_was_built_from(twin):
    shapes = noop_cost.layout(twin)
    assert shapes["pipelines/a/dvc.yaml"] == FILES["pipelines/a/dvc.yaml"]
    assert shapes["dvc.yaml"] == [(2, 1, 0), *FILES["dvc.yaml"][1:]]  # its first stage also reads the other file


@pytest.mark.slow
def test_a_no_op_prints_one_line_for_the_unchanged_stages(twin):
    plain = run([DVC, "repro"], cwd=twin).stdout
    assert plain.count("didn't change, skipping") == 7  # what DVC prints itself: one line per stage
    quiet = run(QUIET, cwd=twin)
    assert "didn't change" not in quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines() == ["Data and pipelines are up to date.",
                                         "7 unchanged stages skipped in 2 pipeline files"]


@pytest.mark.slow
def test_stages_that_run_and_errors_still_print(twin):
    (twin / "in" / "0.txt").write_text("changed\n")  # the first stage of each file reads it
    out = run(QUIET, cwd=twin).stdout
    assert "Running stage 'pipelines/a/dvc.yaml:s0'" in out and "Running stage 's0'" in out
    assert "didn't change" not in out and out.rstrip().endswith("unchanged stages skipped in 2 pipeline files")
    dvc_yaml = twin / "pipelines" / "a" / "dvc.yaml"
    stages = yaml.safe_load(dvc_yaml.read_text())
    stages["stages"]["s3"]["cmd"] = "exit 3"
    dvc_yaml.write_text(yaml.safe_dump(stages, sort_keys=False))
    failed = run(QUIET, cwd=twin, check=False)
    assert failed.returncode != 0
    assert "failed to reproduce 'pipelines/a/dvc.yaml:s3'" in failed.stderr  # dvc repro -q would print nothing
    assert failed.stdout.splitlines()[-1] == "3 unchanged stages skipped in 1 pipeline file"  # s0-s2, before s3


@pytest.mark.slow
def test_the_benchmark_times_a_project_beside_its_twins(tmp_path, capsys):
    project = noop_cost.build_twin(tmp_path / "project", FILES, same_shape=False)
    assert noop_cost.main(["--project", str(project), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("project: dvc repro", noop_cost.ASKED, noop_cost.STAMPED, "trivial twin: dvc repro",
                  "same-shape twin: dvc repro", "project: dvc status"):
        assert f"| {label} |" in out
    assert "7 stages in 2 pipeline files" in out
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in out.splitlines() if line.startswith("| project")}
    assert rows["project: dvc repro"][5].rstrip(" |") == "8"  # 7 skip lines and "up to date"
    assert rows[noop_cost.ASKED][5].rstrip(" |") == rows[noop_cost.STAMPED][5].rstrip(" |") == "2"


#: How the wrapper says a no-op was answered from its stamp, DVC not asked.
STAMPED = "(no watched file changed since DVC last found them so; `dvc repro` asks DVC again)"
#: Seconds between a test's file change and the wrapper's start: more than the stamp's margin for the file clock.
FILES_SETTLE = 0.1
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
import uptodate


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A twin no test changes (the tests above edit theirs), copied by each test below."""
    return noop_cost.build_twin(tmp_path_factory.mktemp("noop-pristine") / "project", FILES, same_shape=True)


@pytest.fixture
def stamped(pristine, tmp_path):
    """A copy of the twin whose last no-op wrote the wrapper's stamp."""
    import shutil

    project = tmp_path / "p"
    shutil.copytree(pristine, project, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    time.sleep(FILES_SETTLE)
    first = run(QUIET, cwd=project).stdout
    assert STAMPED not in first and (project / uptodate.STAMP).is_file()
    return project


def _change_input(p):
    (p / "in" / "0.txt").write_text("changed\n")


def _touch_input(p):  # same bytes, new times: DVC hashes it again and finds it unchanged
    (p / "in" / "0.txt").write_text((p / "in" / "0.txt").read_text())


def _change_output(p):
    (p / "out" / "dvc" / "s2_0.txt").write_text("edited by hand\n")


def _drop_cache_object(p):
    next(f for f in (p / ".dvc" / "cache").rglob("*") if f.is_file()).unlink()


def _change_params(p):
    (p / "params.yaml").write_text((p / "params.yaml").read_text().replace("k1: 1", "k1: 11"))


def _change_command(p):
    path = p / "pipelines" / "a" / "dvc.yaml"
    path.write_text(path.read_text().replace("echo", "echo  ", 1))


def _add_pipeline(p):
    (p / "pipelines" / "b").mkdir()
    (p / "pipelines" / "b" / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"n": {"cmd": "echo n > n.txt",
                                                                                      "outs": ["n.txt"]}}}))


@pytest.mark.slow
def test_a_second_no_op_is_answered_from_the_stamp_and_any_other_call_asks_dvc(stamped):
    again = run(QUIET, cwd=stamped).stdout.splitlines()
    assert again == ["Data and pipelines are up to date.", f"7 unchanged stages skipped in 2 pipeline files {STAMPED}"]
    assert STAMPED not in run([*QUIET, "s0"], cwd=stamped).stdout  # other targets: DVC asked
    assert STAMPED not in run([*QUIET, "--dry"], cwd=stamped).stdout  # options: DVC asked


@pytest.mark.slow
@pytest.mark.parametrize("change", [_change_input, _touch_input, _change_output, _drop_cache_object, _change_params,
                                    _change_command, _add_pipeline])
def test_any_change_dvc_would_see_makes_the_wrapper_ask_dvc(stamped, change):
    change(stamped)
    time.sleep(FILES_SETTLE)  # a change within a clock tick of the run's start would only cost the stamp
    after = run(QUIET, cwd=stamped)
    assert STAMPED not in after.stdout, after.stdout
    if change in (_touch_input, _add_pipeline):  # DVC asked, found nothing to do (the new file is not a
        # dependency of the default target), so this run stamps again and the next is answered from it
        assert "Running stage" not in after.stdout and STAMPED in run(QUIET, cwd=stamped).stdout
    else:
        # DVC reran the stage, or restored its outputs from its run cache
        assert "Running stage" in after.stdout or "checking out outputs" in after.stdout, after.stdout
        assert STAMPED not in run(QUIET, cwd=stamped).stdout  # a stage ran: no stamp from that run


def test_a_folder_is_watched_file_by_file(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "0.txt").write_text("0\n")
    folder = str(tmp_path / "in")
    seen = uptodate._stat(folder)
    assert list(seen) == [str(tmp_path / "in" / "sub" / "0.txt")] and uptodate._stat(folder) == seen
    (tmp_path / "in" / "new.txt").write_text("new\n")
    assert set(uptodate._stat(folder)) == {*seen, str(tmp_path / "in" / "new.txt")}
    assert uptodate._stat(str(tmp_path / "gone")) == {str(tmp_path / "gone"): None}


@pytest.mark.slow
def test_no_stamp_when_a_watched_file_changed_during_the_run(stamped):
    (stamped / uptodate.STAMP).unlink()
    started = uptodate.now_ns()
    _touch_input(stamped)  # as an editor would while DVC checks
    assert not uptodate.write(stamped, [], "7 unchanged stages skipped in 2 pipeline files", started)
    assert not (stamped / uptodate.STAMP).exists()
    assert uptodate.write(stamped, [], "7 unchanged stages skipped in 2 pipeline files", uptodate.now_ns())
