"""KITTI checked like the classification sets: every number of a label line in the object devkit's range
(evosynth.data.kitti_fields), every box inside its image with positive area, 16-bit PNGs read by their
high byte rather than saturated, and decompression bombs refused in one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from fixtures_detection import FRAMES, write_kitti
from fixtures_prepare import assert_one_line_refusal, png_claiming, prepare_cli
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from evosynth.data.kitti import load_frames
from evosynth.errors import DataError

ORDER = ("truncated", "occluded", "alpha", "left", "top", "right", "bottom", "height", "width", "length",
         "x", "y", "z", "rotation_y")
#: What KITTI's label files write on DontCare lines for the fields a region has not.
DONT_CARE_UNSET = {"truncated": -1, "occluded": -1, "alpha": -10, "height": -1, "width": -1, "length": -1,
                   "x": -1000, "y": -1000, "z": -1000, "rotation_y": -10}
KINDS = ["Car", "Pedestrian", "Van", "Person_sitting", "Cyclist", "Truck", "DontCare"]
SPEC = {"source": "kitti", "root": "raw", "image_size": 32}


def _hundredths(lo: int, hi: int) -> st.SearchStrategy[float]:
    return st.integers(lo, hi).map(lambda c: c / 100)  # KITTI prints two decimals


@st.composite
def objects(draw, width: int, height: int) -> tuple[str, dict[str, float]]:
    """One object whose every field lies in the devkit's range (boundaries included), box in the image."""
    kind = draw(st.sampled_from(KINDS))
    left = draw(st.integers(0, (width - 1) * 100 - 1))
    top = draw(st.integers(0, (height - 1) * 100 - 1))
    fields = {
        "truncated": draw(st.one_of(st.sampled_from([0.0, 1.0]), _hundredths(0, 100))),
        "occluded": draw(st.sampled_from([0, 1, 2, 3])),
        "alpha": draw(st.one_of(st.sampled_from([-3.14, 3.14, 3.142]), _hundredths(-314, 314))),
        "left": left / 100, "top": top / 100,
        "right": draw(st.integers(left + 1, (width - 1) * 100)) / 100,
        "bottom": draw(st.integers(top + 1, (height - 1) * 100)) / 100,
        **{name: draw(_hundredths(0, 800)) for name in ("height", "width", "length")},
        **{name: draw(_hundredths(-8000, 8000)) for name in ("x", "y", "z")},
        "rotation_y": draw(st.one_of(st.sampled_from([-3.14159, 3.14159]), _hundredths(-314, 314))),
    }
    if kind == "DontCare":
        fields |= {name: value for name, value in DONT_CARE_UNSET.items() if draw(st.booleans())}
    return kind, fields


def _line(kind: str, fields: dict[str, float], spoiled: dict[str, str] | None = None) -> str:
    text = {name: str(int(value)) if name == "occluded" else f"{value:.5g}" if name in ("alpha", "rotation_y")
            else f"{value:.2f}" for name, value in fields.items()} | (spoiled or {})
    return " ".join([kind] + [text[name] for name in ORDER])


def _bad_values(kind: str, fields: dict[str, float], width: int, height: int) -> dict[str, tuple[list[str], str]]:
    """Per field: values outside the devkit's range for it, and a word the refusal must contain."""
    unset = kind != "DontCare"  # the "not set" values are refused on objects the difficulty filters read
    angles = ["3.15", "-3.15", "10", "-4"] + (["-10"] if unset else [])
    return {
        "truncated": (["-5", "-0.01", "1.01", "2"] + (["-1"] if unset else []), "truncated"),
        "occluded": (["4", "9", "-2", "1.5"] + (["-1"] if unset else []), "occluded"),
        "alpha": (angles, "alpha"),
        "rotation_y": (angles, "rotation_y"),
        **{name: (["-0.01", "-2"] + (["-1"] if unset else []), name) for name in ("height", "width", "length")},
        "left": (["-0.01", "-5", f"{fields['right']:.2f}", f"{fields['right'] + 1:.2f}"], "box"),
        "top": (["-1", f"{fields['bottom']:.2f}"], "box"),
        "right": ([f"{width - 0.99:.2f}", f"{width:.2f}", f"{width + 100}", "1e39"], "box"),
        "bottom": ([f"{height - 0.99:.2f}", f"{height + 7}", "1e39"], "box"),
    }


def _frame(root: Path, pixels: np.ndarray, lines: list[str]) -> Path:
    """Frame 000000 of a KITTI copy: ``pixels`` as its PNG, ``lines`` as its label file."""
    (root / "training" / "image_2").mkdir(parents=True, exist_ok=True)
    (root / "training" / "label_2").mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(root / "training" / "image_2" / "000000.png")
    label = root / "training" / "label_2" / "000000.txt"
    label.write_text("".join(line + "\n" for line in lines))
    return label


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_lines_in_the_devkit_ranges_load_and_one_bad_number_is_refused(data):
    width, height = data.draw(st.integers(2, 40)), data.draw(st.integers(2, 30))
    drawn = data.draw(st.lists(objects(width, height), min_size=1, max_size=3))
    lines = [_line(kind, fields) for kind, fields in drawn]
    spoil = data.draw(st.one_of(st.none(), st.integers(0, len(drawn) - 1)))
    if spoil is not None:
        kind, fields = drawn[spoil]
        field = data.draw(st.sampled_from(ORDER))
        values, word = _bad_values(kind, fields, width, height).get(field, ([], "NaN or infinite"))
        value = data.draw(st.sampled_from(values + ["inf", "-inf", "nan"]))
        lines[spoil] = _line(kind, fields, {field: value})
        word = "NaN or infinite" if value in ("inf", "-inf", "nan") else word
    with tempfile.TemporaryDirectory() as tmp:
        label = _frame(Path(tmp), np.full((height, width, 3), 40, np.uint8), lines)
        if spoil is not None:
            with pytest.raises(DataError) as caught:
                load_frames(tmp, ["000000"], 8)
            message = str(caught.value)
            assert "\n" not in message and message.startswith(f"{label}, line {spoil + 1}: ") and word in message, (
                message, word)
            return
        split = load_frames(tmp, ["000000"], 8)
    objects_read = split.objects(0)
    assert objects_read.boxes.tolist() == [[f[k] for k in ("left", "top", "right", "bottom")] for _, f in drawn]
    assert objects_read.truncation.tolist() == [f["truncated"] for _, f in drawn]
    assert objects_read.occlusion.tolist() == [f["occluded"] for _, f in drawn]
    assert split.original_sizes[0].tolist() == [height, width]


def test_box_edges_are_0_based_pixel_coordinates(tmp_path):
    """A 40×30 frame's last column is 39 and its last row 29 (KITTI clips to 1241 in a 1242-wide frame)."""
    edges = {"39.00 29.00": True, "39.01 29.00": False, "40.00 29.00": False, "39.00 29.01": False,
             "39.00 30.00": False}
    outcome = {}
    for edge in edges:
        _frame(tmp_path, np.zeros((30, 40, 3), np.uint8), [f"Car 0.00 0 0.00 0.00 0.00 {edge} 1 1 1 0 0 0 0"])
        try:
            outcome[edge] = load_frames(tmp_path, ["000000"], 8).original_boxes[0, 0, 2:].tolist()
        except DataError as exc:
            outcome[edge] = str(exc)
    assert outcome["39.00 29.00"] == [39.0, 29.0]
    for edge in list(edges)[1:]:
        assert "ends outside the 40×30 image (0-based pixel coordinates: right ≤ 39, bottom ≤ 29)" in outcome[edge]


@settings(max_examples=40, deadline=None)
@given(values=st.integers(1, 12).flatmap(lambda side: arrays(np.uint16, (side, side))))
def test_16_bit_frames_keep_their_high_byte(values):
    assume(values.max() >= 256)
    with tempfile.TemporaryDirectory() as tmp:
        _frame(Path(tmp), values, [])
        images = load_frames(tmp, ["000000"], len(values)).images
    assert np.array_equal(images[0].numpy(), np.repeat((values >> 8).astype(np.uint8)[None], 3, axis=0))


def test_8_bit_values_stored_in_16_bits_are_refused_not_blackened(tmp_path):
    _frame(tmp_path, np.arange(64, dtype=np.uint16).reshape(8, 8) * 4, [])
    with pytest.raises(DataError, match="000000.png: 16-bit image whose values all lie in 0..252"):
        load_frames(tmp_path, ["000000"], 8)


# ------------------------------------------------- the failures as a user met them, through `evosynth prepare`
CAR = "Car 0.00 0 -1.57 {} 1.52 1.63 3.88 -0.65 1.71 46.70 -1.59"
PREPARE_REFUSED = [  # (id, label line of frame 000002 (375×1242), words of the refusal)
    ("box outside the image", CAR.format("1200.00 100.00 1300.00 200.00"), "ends outside the 1242×375 image"),
    ("box above the image", CAR.format("100.00 -40.00 200.00 200.00"), "starts outside the image"),
    ("zero-area box", CAR.format("100.00 150.00 100.00 200.00"), "has no area"),
    # a literal inf was refused already; 1e39 is finite until the boxes are stored as float32
    ("coordinate beyond float32", CAR.format("100.00 150.00 1e39 200.00"), "ends outside the 1242×375 image"),
    ("occluded 9", CAR.format("100.00 150.00 300.00 200.00").replace(" 0 -1.57", " 9 -1.57"),
     "occluded must be an integer (0, 1, 2, 3), got 9"),
    ("truncation -5", CAR.format("100.00 150.00 300.00 200.00").replace("0.00 0 -1.57", "-5 0 -1.57"),
     "truncated -5 outside [0, 1]"),
    ("DontCare's unset values on a car", "Car -1 -1 -10 100.00 150.00 300.00 200.00 -1 -1 -1 -1000 -1000 -1000 -10",
     "truncated -1 outside [0, 1]"),
]


@pytest.mark.parametrize("case", PREPARE_REFUSED, ids=[c[0] for c in PREPARE_REFUSED])
def test_labels_outside_their_ranges_stop_prepare_in_one_line(tmp_path, monkeypatch, capsys, case):
    _, line, words = case
    write_kitti(tmp_path / "raw")
    label = tmp_path / "raw" / "training" / "label_2" / "000002.txt"
    label.write_text(label.read_text() + line + "\n")
    code, stderr = prepare_cli(tmp_path, SPEC, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr, "raw/training/label_2/000002.txt, line 3: ", words)


def test_a_16_bit_png_is_not_saturated(tmp_path, monkeypatch, capsys):
    write_kitti(tmp_path / "raw")
    ramp = np.linspace(0, 65535, 32 * 32).round().astype(np.uint16).reshape(32, 32)
    Image.fromarray(ramp).save(tmp_path / "raw" / "training" / "image_2" / "000001.png")
    (tmp_path / "raw" / "training" / "label_2" / "000001.txt").write_text("")  # its boxes were for 1224×370
    code, stderr = prepare_cli(tmp_path, SPEC, monkeypatch, capsys)
    assert code == 0, stderr
    with np.load(tmp_path / "out" / "mine.npz") as prepared:
        part = "train" if "000001" in prepared["frames_train"] else "test"
        image = prepared[f"x_{part}"][list(prepared[f"frames_{part}"]).index("000001")]
    assert np.array_equal(image, np.repeat((ramp >> 8).astype(np.uint8)[None], 3, axis=0))
    assert (image == 255).mean() < 0.01  # 98 % of them were 255


def test_a_decompression_bomb_frame_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    write_kitti(tmp_path / "raw")
    png_claiming(tmp_path / "raw" / "training" / "image_2" / "000003.png", 30000, 30000)  # 900 megapixels
    code, stderr = prepare_cli(tmp_path, SPEC, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr,
                            "raw/training/image_2/000003.png: refused as a possible decompression bomb")


def test_frames_above_pillows_warning_limit_are_refused_too(tmp_path, monkeypatch, capsys):
    write_kitti(tmp_path / "raw")
    assert all(frame.size == (375, 1242) for name, frame in FRAMES.items() if name != "000001")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 460_000)  # 375×1242 = 465,750: Pillow would only warn
    code, stderr = prepare_cli(tmp_path, SPEC, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr, "refused as a possible decompression bomb", "465750 pixels")
