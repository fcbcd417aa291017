"""The warm server runs only the code its key covers, never code from the caller's folder; provenance names
the versions that actually ran."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import types
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import BIN, TINY_PARAMS, engine_env

from evosynth.artifacts import provenance
from evosynth.host import loaded_version
from evosynth.pipeline import warm

EVOSYNTH = str(BIN / "evosynth")
PREPARE = ["prepare", "--dataset", "digits", "--out-dir"]


def _fake_dist(site: Path, version: str, body: str = "") -> None:
    """A distribution ``fakedist`` installed into the folder ``site`` as pip would lay it out."""
    info = site / "fakedist-0.dist-info"
    (site / "fakedist").mkdir(parents=True, exist_ok=True)
    info.mkdir(exist_ok=True)
    (site / "fakedist" / "__init__.py").write_text(f"__version__ = {version!r}\n{body}")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakedist\nVersion: {version}\n")
    (info / "RECORD").write_text("fakedist/__init__.py,,\n")


def test_the_key_follows_the_installed_distributions(tmp_path):
    site = tmp_path / "site"
    _fake_dist(site, "1.0")
    key = warm.server_key(warm.PACKAGE, {}, paths=[str(site)])
    assert warm.server_key(warm.PACKAGE, {}, paths=[str(site)]) == key
    (site / "fakedist-0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedist\nVersion: 2.99.0\n")
    upgraded = warm.server_key(warm.PACKAGE, {}, paths=[str(site)])
    assert upgraded != key
    (site / "other.pth").write_text("/somewhere\n")  # a new path entry (an editable install)
    assert warm.server_key(warm.PACKAGE, {}, paths=[str(site)]) != upgraded
    assert warm.server_key(warm.PACKAGE, {}, paths=[str(site), str(tmp_path / "missing")]) != upgraded


def test_a_file_edited_under_a_loaded_package_is_noticed(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_dist(site, "1.0")
    monkeypatch.syspath_prepend(str(site))
    import fakedist  # noqa: F401

    loaded = warm.loaded_files()
    assert str(site / "fakedist" / "__init__.py") in loaded and warm.changed_files(loaded) == []
    (site / "fakedist" / "__init__.py").write_text("__version__ = '1.0'\nraise SystemExit('new code')\n")
    assert warm.changed_files(loaded) == [str(site / "fakedist" / "__init__.py")]
    monkeypatch.delitem(sys.modules, "fakedist")


def test_provenance_records_the_version_that_was_loaded(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_dist(site, "1.0")
    monkeypatch.syspath_prepend(str(site))
    assert loaded_version("fakedist") == "1.0"  # not imported: its metadata
    monkeypatch.setitem(sys.modules, "fakedist", types.SimpleNamespace(__version__="1.0"))
    _fake_dist(site, "2.99.0")  # upgraded on disk after the import
    assert metadata.version("fakedist") == "2.99.0" and loaded_version("fakedist") == "1.0"
    monkeypatch.setitem(sys.modules, "numpy", types.SimpleNamespace(__version__="0.0.loaded"))
    assert provenance("s", {}, [])["packages"]["numpy"] == "0.0.loaded" != metadata.version("numpy")
    assert loaded_version("not-a-distribution") is None


def test_a_server_of_another_package_serves_nothing(tmp_path):
    path = tmp_path / "s.sock"
    warm.serve(path, lambda argv: 0, idle=0.1, package=tmp_path)
    assert not path.exists()


# ------------------------------------------------------------------ end to end, through the `evosynth` command
@pytest.fixture()
def project(tmp_path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    (path / "params.yaml").write_text(yaml.safe_dump(copy.deepcopy(TINY_PARAMS)))
    return path


def _warm_step(project: Path, out: str, env: dict[str, str]) -> dict:
    """Run a cheap step through the warm server: the step's own record (pid, its parent) and the caller's pid."""
    record = project / f"{out}.json"
    env = env | {"EVOSYNTH_WARM": "1", "EVOSYNTH_LIMITS_RECORD": str(record)}
    caller = subprocess.Popen([EVOSYNTH, *PREPARE, out], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = caller.communicate(timeout=600)
    assert caller.returncode == 0, err
    return json.loads(record.read_text()) | {"caller": caller.pid}


def _gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_a_changed_installed_package_is_never_served_stale(project, tmp_path):
    site = tmp_path / "site"
    _fake_dist(site, "1.0")
    (site / "sitecustomize.py").write_text("import fakedist\n")  # every process (the server too) imports it
    env = engine_env() | {"TORCH_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    first = _warm_step(project, "a", env)
    server = first["ppid"]
    assert first["pid"] != first["caller"], "the step did not run in a warm server"
    assert _warm_step(project, "b", env)["ppid"] == server  # unchanged: the same server
    # a file of the package edited in place (its metadata untouched): the server hands the step back and exits
    (site / "fakedist" / "__init__.py").write_text("__version__ = '1.0'\nEDITED = True\n")
    edited = _warm_step(project, "c", env)
    assert edited["pid"] == edited["caller"] and _gone(server)
    fresh = _warm_step(project, "d", env)
    assert fresh["pid"] != fresh["caller"] and fresh["ppid"] != server
    # the distribution upgraded (its metadata rewritten): another key, another server
    _fake_dist(site, "2.0")
    upgraded = _warm_step(project, "e", env)
    assert upgraded["pid"] != upgraded["caller"] and upgraded["ppid"] != fresh["ppid"]


@pytest.mark.slow
def test_a_folder_named_evosynth_in_the_callers_folder_does_not_shadow_the_package(project, tmp_path):
    marker = tmp_path / "shadowed"
    fake = project / "evosynth"
    (fake / "pipeline").mkdir(parents=True)
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n__version__ = '0'\n")
    (fake / "pipeline" / "__init__.py").write_text("")
    (fake / "pipeline" / "serve.py").write_text(f"open({str(marker)!r}, 'w').write('served')\n")
    env = engine_env() | {"TORCH_HOME": str(tmp_path)}  # a server of this test's own
    step = _warm_step(project, "out", env)
    assert step["pid"] != step["caller"], "the step did not run in a warm server"
    assert not marker.exists(), marker.read_text()
    assert (project / "out" / "digits.npz").is_file()
