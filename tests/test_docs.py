"""The README and docs/: short README, every relative link resolves, generated results blocks rebuilt and checked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
import readme_results

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group(1) for m in LINK.finditer(text)]


def broken(page: Path) -> list[str]:
    """The relative links of ``page`` whose file (or heading) does not exist."""
    out = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not this repository's
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            out.append(target)
    return out


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page):
    assert broken(page) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Its part\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md) [ok](docs/a.md#its-part) [web](https://example.org/x) `[no](code.md)`\n"
                    "[gone](docs/b.md) [no heading](docs/a.md#elsewhere) [self](#nothing)\n```\n[no](in-code.md)\n```\n")
    assert broken(page) == ["docs/b.md", "docs/a.md#elsewhere", "#nothing"]


def test_the_readme_fits_a_few_screens_and_keeps_its_test_command():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert ".venv/bin/python -m pytest" in text  # what CI runs


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_the_docs_speak_of_the_project_not_of_issue_numbers(page):
    assert re.findall(r".{0,30}\bissue \d+.{0,30}", page.read_text(), flags=re.IGNORECASE) == []


def _reports(root: Path) -> None:
    (root / "reports" / "evidence").mkdir(parents=True)
    (root / "reports" / "evidence" / "evidence.csv").write_text(
        "claim,metric,at,unit,seeds,mean,sd,low,high,verdict,seeds_usable,usable_range,"
        "treatment_accuracy_in_range,control_accuracy_in_range,treatment_final_accuracy,control_final_accuracy\n"
        "alpha_vs_beta,cluster_efficiency,synaptic_efficiency,log10 ×,3,0.31415,0.1,0.0512,0.5771,supported,3,"
        "synaptic efficiency 1–12×,88.04,87.46,40.1,35.2\n"
        "gamma,accuracy,generation,pp,4,-1.25,0.5,-2.5,0.125,inconclusive,4,generations 1–2,nan,nan,80.0,81.5\n"
        "delta,accuracy,synaptic_efficiency,pp,5,nan,nan,nan,nan,not testable here,0,none,nan,nan,12.0,11.0\n")
    (root / "reports" / "evidence" / "evidence.md").write_text("# Evidence\n\n## Verdicts\n\nalpha holds.\n")
    (root / "docs").mkdir()
    (root / "README.md").write_text("# R\n\n<!-- verdicts:start -->\nold\n<!-- verdicts:end -->\n\nrest\n")
    (root / "docs" / "results.md").write_text("# Results\n\n<!-- results:start -->\n<!-- results:end -->\n")


def test_both_blocks_are_built_from_the_reports_and_checked(tmp_path):
    _reports(tmp_path)
    script = [sys.executable, str(ROOT / "workflow" / "scripts" / "readme_results.py"), "--root", str(tmp_path)]
    stale = subprocess.run([*script, "--check"], capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "README.md and docs/results.md" in stale.stderr
    assert subprocess.run(script, check=False).returncode == 0
    readme = (tmp_path / "README.md").read_text()
    assert ("| `alpha_vs_beta` | cluster_efficiency at matched synaptic_efficiency | synaptic efficiency 1–12× |"
            " 3 of 3 | +0.314 log10 × | [+0.051, +0.577] | **supported** | 88.0 / 87.5 % (in range) |") in readme
    assert ("| `gamma` | accuracy at matched generation | generations 1–2 | 4 of 4 | -1.250 pp | [-2.500, +0.125] |"
            " **inconclusive** | 80.0 / 81.5 % (last generation) |") in readme
    assert ("| `delta` | accuracy at matched synaptic_efficiency | none | 0 of 5 | – | – | **not testable here** |"
            " 12.0 / 11.0 % (last generation) |") in readme
    assert "old" not in readme and readme.endswith("<!-- verdicts:end -->\n\nrest\n")
    results = (tmp_path / "docs" / "results.md").read_text()
    assert "Source: [`reports/evidence/evidence.md`](../reports/evidence/evidence.md)" in results
    assert "## The evidence set" in results and "### Verdicts\n\nalpha holds." in results
    assert "# Evidence" not in results
    assert subprocess.run([*script, "--check"], check=False).returncode == 0
    (tmp_path / "reports" / "evidence" / "evidence.md").write_text("# Evidence\n\nalpha fails.\n")
    only = subprocess.run([*script, "--check"], capture_output=True, text=True, check=False)
    assert only.returncode == 1 and only.stderr.startswith("docs/results.md: the generated results are stale")


def test_a_missing_block_is_one_line(tmp_path):
    _reports(tmp_path)
    (tmp_path / "README.md").write_text("# R without markers\n")
    result = subprocess.run([sys.executable, str(ROOT / "workflow" / "scripts" / "readme_results.py"),
                             "--root", str(tmp_path), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr == "readme_results: error: README.md has no <!-- verdicts:start --> … <!-- verdicts:end --> block\n"


def test_the_committed_blocks_are_the_committed_reports(tmp_path):
    for path in ("README.md", "docs", "reports"):
        (shutil.copytree if (ROOT / path).is_dir() else shutil.copy)(ROOT / path, tmp_path / path)
    assert readme_results.main(["--root", str(tmp_path), "--check"]) == 0
    csv = tmp_path / readme_results.EVIDENCE
    csv.write_text(csv.read_text().replace("supported", "contradicted", 1))
    assert readme_results.main(["--root", str(tmp_path), "--check"]) == 1
