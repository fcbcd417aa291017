"""`dvc plots show` writes a page that renders with no network (issue 13, item 6).

DVC's default page loads Vega from a CDN and is blank offline; the project's
`.dvc/config` names `.dvc/plots/offline.html`, which inlines the libraries.
The last test opens the page in a real headless Chromium with every host
unresolvable and counts the rendered charts.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import BIN, ROOT, copy_dvc_settings, run

TEMPLATE = ROOT / ".dvc" / "plots" / "offline.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLOTS = """plots:
- 'toy: accuracy':
    x: generation
    x_label: generation
    template: evosynth_lines
    y:
      plots.csv: [accuracy_percent]
    y_label: test accuracy (%)
    title: 'toy: test accuracy (%) vs generation'
- 'toy: efficiency':
    x: generation
    x_label: generation
    template: evosynth_lines
    y:
      plots.csv: [synaptic_efficiency, cluster_efficiency]
    y_label: "x generation 0 (synapses, kernels)"
    title: 'toy: efficiencies vs generation'
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """`dvc plots show` in a project with the repository's DVC settings and two plots."""
    project = tmp_path_factory.mktemp("plots")
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    copy_dvc_settings(project)
    rows = ["generation,member,accuracy_percent,synaptic_efficiency,cluster_efficiency"]
    rows += [f"{g},0,{90 - g:.2f},{2.0 ** g:.3f},{1.2 ** g:.3f}" for g in range(5)]
    (project / "plots.csv").write_text("\n".join(rows) + "\n")
    (project / "dvc.yaml").write_text(PLOTS)
    run([str(BIN / "dvc"), "plots", "show", "-o", "out"], cwd=project)
    return project / "out" / "index.html"


def test_the_template_inlines_vega_and_loads_nothing():
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in text
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing fetched: every library inlined
    for name in ("vega", "vegaLite", "vegaEmbed"):
        assert f".{name}=" in text or f"{name}=" in text, name
    assert "html_template = plots/offline.html" in (ROOT / ".dvc" / "config").read_text()


def test_dvc_plots_show_writes_the_offline_page(page):
    text = page.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in text and not re.search(r"<script[^>]+src=", text)
    assert text.count("vegaEmbed('#") == 2  # one chart per declared plot
    assert "test accuracy (%)" in text  # the axis title DVC filled into the spec


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_renders_every_chart_in_a_browser_with_no_network(page, tmp_path):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    body = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)  # the page's own code, not what it drew
    canvases = [tag for tag in re.findall(r"<canvas\b[^>]*>", body) if 'class="marks"' in tag]
    assert len(canvases) == 2, body[-2000:]  # one drawn chart per declared plot
    sizes = [(int(re.search(r'width="(\d+)"', t)[1]), int(re.search(r'height="(\d+)"', t)[1])) for t in canvases]
    assert all(w > 100 and h > 100 for w, h in sizes), sizes
    assert "Error" not in body  # vega-embed writes its errors into the chart's div
