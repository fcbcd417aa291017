"""``evosynth prepare`` run in process on one dataset spec, and what a one-line refusal must look like;
a PNG header claiming a huge image (a decompression bomb in a few bytes)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import yaml
from conftest import TINY_PARAMS

from evosynth.pipeline.cli import main


def prepare_cli(project: Path, spec: dict, monkeypatch, capsys) -> tuple[int, str]:
    """Write params.yaml with ``spec`` as dataset ``mine`` in ``project``; run ``evosynth prepare`` there."""
    params = {**TINY_PARAMS, "datasets": {**TINY_PARAMS["datasets"], "mine": spec}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    code = main(["prepare", "--dataset", "mine", "--out-dir", "out"])
    return code, capsys.readouterr().err.strip()


def assert_one_line_refusal(project: Path, code: int, stderr: str, *words: str) -> None:
    """Exit 2, one line naming the problem (from the step, or from the params check before it), and nothing
    prepared."""
    assert code == 2, stderr
    assert "\n" not in stderr and "Traceback" not in stderr, stderr
    assert stderr.startswith(("evosynth prepare: error: ", "evosynth: error: params.yaml: datasets.mine")), stderr
    for word in words:
        assert word in stderr, (word, stderr)
    out = project / "out"
    assert not out.exists() or list(out.iterdir()) == [], "a refused dataset left files behind"


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A 1-bit grey PNG whose header claims ``width``×``height`` pixels, with one byte of image data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00"))
                     + chunk(b"IEND", b""))
    return path
