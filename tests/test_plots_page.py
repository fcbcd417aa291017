"""`dvc plots show` writes a page that renders with no network.

DVC's default page loads Vega from a CDN and is blank offline; the project's
`.dvc/config` names `.dvc/plots/offline.html`, which inlines the libraries.
The last test opens the page in a real headless Chromium with every host
unresolvable, counts the rendered charts and reads their legends: the ratios
over generation 0 go on a log axis (template ``evosynth_log``) and every line
is named in words ("synaptic efficiency (member 1)", not a column name).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
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
    template: evosynth_log
    y:
      plots.csv: [synaptic_efficiency_m0, synaptic_efficiency_m1, cluster_efficiency_m0]
    y_label: "x generation 0 (synapses, kernels; log scale)"
    title: 'toy: efficiencies vs generation'
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """`dvc plots show` in a project with the repository's DVC settings and two plots."""
    project = tmp_path_factory.mktemp("plots")
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    copy_dvc_settings(project)
    rows = ["generation,accuracy_percent,synaptic_efficiency_m0,synaptic_efficiency_m1,cluster_efficiency_m0"]
    rows += [f"{g},{90 - g:.2f},{10.0 ** g:.3f},{3.0 ** g:.3f},{1.2 ** g:.3f}" for g in range(5)]
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


def _template(name: str) -> dict:
    text = (ROOT / ".dvc" / "plots" / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text.replace('"<DVC_METRIC_DATA>"', "[]"))


def test_the_committed_plots_put_ratios_on_log_axes_and_name_their_lines():
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["plots"]
    lines = [(name, spec) for plot in plots if isinstance(plot, dict) for name, spec in plot.items()]
    assert lines
    for name, spec in lines:
        columns = [c for cols in spec["y"].values() for c in cols]
        ratios = any(word in c for c in columns for word in ("efficiency", "reduction"))
        assert spec["template"] == ("evosynth_log" if ratios else "evosynth_lines"), name
        assert ("log scale" in spec["y_label"]) == ratios, name
    assert _template("evosynth_log")["encoding"]["y"]["scale"]["type"] == "log"
    assert _template("evosynth_lines")["encoding"]["y"]["scale"].get("type", "linear") == "linear"
    for name in ("evosynth_lines", "evosynth_log"):
        color = _template(name)["encoding"]["color"]
        assert color["title"] is None and color["field"] != "line", name  # no legend titled "line"


def test_dvc_plots_show_writes_the_offline_page(page):
    text = page.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in text and not re.search(r"<script[^>]+src=", text)
    assert text.count("vegaEmbed('#") == 2  # one chart per declared plot
    assert "test accuracy (%)" in text  # the axis title DVC filled into the spec
    assert len(re.findall(r'"scale":\s*\{"type":\s*"log"', text)) == 1  # the efficiency chart only


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_renders_every_chart_in_a_browser_with_no_network(page, tmp_path):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    body = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)  # the page's own code, not what it drew
    charts = [tag for tag in re.findall(r"<svg\b[^>]*>", body) if 'class="marks"' in tag]
    assert len(charts) == 2, body[-2000:]  # one drawn chart per declared plot
    sizes = [(float(re.search(r'width="([\d.]+)"', t)[1]), float(re.search(r'height="([\d.]+)"', t)[1])) for t in charts]
    assert all(w > 100 and h > 100 for w, h in sizes), sizes
    assert "Error" not in body  # vega-embed writes its errors into the chart's div
    texts = set(re.findall(r"<text\b[^>]*>([^<]+)</text>", body))
    assert {"synaptic efficiency (member 0)", "synaptic efficiency (member 1)", "cluster efficiency (member 0)",
            "accuracy (%)"} <= texts, sorted(texts)  # every line named in words
    assert "line" not in texts and not any("_" in t for t in texts), sorted(texts)
    assert {"1", "10", "100", "1,000", "10,000"} <= texts, sorted(texts)  # the log axis: a tick per decade
