"""The package layout: no import cycle, imports in one direction, and code dependencies no stage can miss."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from evosynth.pipeline import codedeps
from evosynth.pipeline.outputs import STEP_MODULES

PACKAGE = ROOT / "src" / "evosynth"
#: The layers, lowest first: a module may import its own layer and the layers below, never above.
LAYERS = (
    ("evosynth", "evosynth.errors", "evosynth.artifacts"),
    ("evosynth.nets",),
    ("evosynth.evolution",),
    ("evosynth.data",),
    ("evosynth.tasks",),
    ("evosynth.training",),
    ("evosynth.baselines", "evosynth.analysis"),
    ("evosynth.reporting",),
    ("evosynth.pipeline",),
)


def _layer(module: str) -> int:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def test_the_package_has_no_import_cycle():
    assert codedeps.import_cycles() == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    package = tmp_path / "evosynth"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("def f():\n    from evosynth.a import y  # hidden in a function\n")
    (package / "a" / "y.py").write_text("from evosynth.a.x import f\n")
    assert codedeps.import_cycles(package) == [["evosynth.a.x", "evosynth.a.y", "evosynth.a.x"]]


def test_lower_layers_never_import_higher_ones():
    wrong = [
        f"{module} imports {target}"
        for module in codedeps.project_modules()
        for target in codedeps.explicit_imports(module)
        if _layer(target) > _layer(module)
    ]
    assert wrong == []


def test_no_module_is_a_big_room():
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 330} == {}


def _stages(root: Path) -> dict[str, dict]:
    """Every stage of the committed params, the named targets too (rendered into ``root`` on request)."""
    from evosynth.pipeline.params import load_params

    params = load_params(ROOT / "params.yaml")
    named = [e for e, spec in params["experiments"].items() if not spec["default"]]
    named += ["evidence"] if params.get("evidence") else []
    named += ["pickset"] if params["runtime"]["picks"] else []
    named += ["probe"] if params.get("probe") else []
    subprocess.run([sys.executable, str(ROOT / "workflow/scripts/render_dvc.py"), "--params", str(ROOT / "params.yaml"),
                    "--root", str(root), *(a for n in named for a in ("--with", n))], check=True)
    stages = {}
    for path in [root / "dvc.yaml", *sorted(root.glob("pipelines/*/dvc.yaml"))]:
        stages.update(yaml.safe_load(path.read_text())["stages"])
    return stages


def test_every_stage_depends_on_the_code_record_of_its_step_and_the_record_on_every_module_it_imports(tmp_path):
    stages = _stages(tmp_path)
    for name, stage in stages.items():
        step = name.split("-")[0]
        if step == "code":
            continue
        if step == "params":  # DVC's params slice: it runs a workflow script, its code listed file by file
            script = ROOT / "workflow/scripts/params_slice.py"
            imported = {n.module for n in ast.walk(ast.parse(script.read_text()))
                        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("evosynth")}
            code = {f for module in imported for f in codedeps.code_files(module)}
            assert stage["deps"] == ["params.yaml", "workflow/scripts/params_slice.py", *sorted(code)], name
            continue
        record = codedeps.record_path(STEP_MODULES[step])
        assert record in stage["deps"], name
        code_stage = stages[f"code-{STEP_MODULES[step]}"]
        # persist: a failing params check (params.yaml is a dependency in DVC) leaves the record in place
        assert code_stage["outs"] == [{record: {"cache": False, "persist": True}}]
        assert code_stage["deps"][0] == "params.yaml"
    rendered = {STEP_MODULES[name.split("-")[0]] for name in stages if not name.startswith(("code-", "params-"))}
    assert {name[len("code-"):] for name in stages if name.startswith("code-")} == rendered
    for module in rendered:
        deps = set(stages[f"code-{module}"]["deps"])
        # the static walk: every project module the step reaches, lazily imported ones too
        assert set(codedeps.stage_code(module)) <= deps
        # the real imports of a fresh interpreter that loads the step and the CLI
        loaded = subprocess.run(
            [sys.executable, "-c", "import importlib, json, sys\n"
             f"importlib.import_module({codedeps.step_module(module)!r}); import evosynth.pipeline.cli\n"
             "print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())"
             " if n.split('.')[0] == 'evosynth' and getattr(m, '__file__', None))))"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout
        files = {f"src/evosynth/{Path(f).resolve().relative_to(PACKAGE.resolve()).as_posix()}" for f in json.loads(loaded)}
        assert files <= deps, (module, sorted(files - deps))


def test_a_training_stage_follows_an_edit_of_evonet_eq_1_and_ignores_the_reports(tmp_path):
    project = tmp_path / "p"
    (project / "src").mkdir(parents=True)
    shutil.copytree(PACKAGE, project / "src" / "evosynth", ignore=shutil.ignore_patterns("__pycache__"))
    before = {m: codedeps.fingerprint(m, project) for m in ("train", "synthesize", "report")}
    encoding = project / "src/evosynth/evolution/encoding.py"
    encoding.write_text(encoding.read_text() + "\n# eq. 1 edited\n")
    report = project / "src/evosynth/reporting/generations.py"
    report.write_text(report.read_text() + "\n# a report edited\n")
    after = {m: codedeps.fingerprint(m, project) for m in ("train", "synthesize", "report")}
    # stress (eq. 6-8) uses eq. 1's P(s|w): training depends on it, and so does synthesis
    assert after["train"] != before["train"] and after["synthesize"] != before["synthesize"]
    assert "src/evosynth/evolution/encoding.py" in before["train"]["files"]
    assert "src/evosynth/reporting/generations.py" not in after["train"]["files"]
    assert after["report"] != before["report"]


@pytest.mark.parametrize("module", sorted(set(STEP_MODULES.values())))
def test_the_code_record_is_the_same_bytes_for_the_same_code(tmp_path, monkeypatch, module):
    from evosynth.pipeline.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    for out in ("a", "b"):
        assert main(["code", "--params", str(ROOT / "params.yaml"), "--module", module,
                     "--out-dir", str(tmp_path / out)]) == 0
    assert (tmp_path / "a" / f"{module}.json").read_bytes() == (tmp_path / "b" / f"{module}.json").read_bytes()


def test_the_readme_results_are_the_committed_reports():
    result = subprocess.run([sys.executable, "workflow/scripts/readme_results.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_layout_page_names_every_package():
    page = (ROOT / "docs" / "layout.md").read_text()
    layout = page[page.index("# Layout"):page.index("## Code dependencies")]
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert [p for p in packages if f"{p}/" not in layout] == []
