"""Build the self-contained HTML page template `dvc plots show` writes its plots into.

DVC's default page loads Vega, Vega-Lite and Vega-Embed from a CDN, so the
plots are blank on a machine without internet. This script inlines the three
libraries (BSD-3-Clause, from their npm packages) into `.dvc/plots/offline.html`,
which `.dvc/config` names as `plots.html_template`. Run it by hand to move to
newer versions; nothing runs it at test or stage time.

    cd "$(mktemp -d)" && npm pack vega@5 vega-lite@5 vega-embed@6
    python workflow/scripts/offline_plots.py <that folder>/*.tgz
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".dvc" / "plots" / "offline.html"
LIBRARIES = ("vega", "vega-lite", "vega-embed")  # in load order: vega-embed needs the other two
PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>evosynth plots</title>
<!-- {credits}; each BSD-3-Clause, inlined by workflow/scripts/offline_plots.py so the page needs no network -->
{scripts}
<style>
  body {{ font-family: sans-serif; }}
  table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def read_package(path: Path) -> tuple[str, str, str]:
    """(name, version, minified build) of one npm package tarball."""
    with tarfile.open(path) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        name = meta["name"]
        build = tar.extractfile(f"package/build/{name}.min.js").read().decode("utf-8")
    if meta.get("license") != "BSD-3-Clause":
        raise SystemExit(f"offline_plots: {path.name}: license {meta.get('license')!r}, expected BSD-3-Clause")
    return name, meta["version"], build


def build_page(packages: dict[str, tuple[str, str]]) -> str:
    """The template: each library inlined; DVC fills {plot_divs} and {refresh_tag}."""
    scripts = []
    for name in LIBRARIES:
        code = packages[name][1]
        if re.search(r"</script|\{(plot_divs|scripts|refresh_tag)\}", code, re.IGNORECASE):
            raise SystemExit(f"offline_plots: {name} contains text the page or DVC would misread")
        scripts.append(f"<script>\n{code}\n</script>")
    credits = ", ".join(f"{name} {packages[name][0]}" for name in LIBRARIES)
    return PAGE.format(credits=credits, scripts="\n".join(scripts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarballs", nargs="+", type=Path, help="npm pack tarballs of vega, vega-lite and vega-embed")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the template (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    packages = {}
    for path in args.tarballs:
        name, version, code = read_package(path)
        packages[name] = (version, code)
    missing = [n for n in LIBRARIES if n not in packages]
    if missing:
        parser.error(f"missing tarball(s) for {', '.join(missing)}")
    args.out.write_text(build_page(packages), encoding="utf-8")
    print(f"offline_plots: wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
