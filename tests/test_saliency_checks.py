"""Saliency sets (MSRA-B, HKU-IS) checked like the classification sets: every mask format is read by its
stated rule (evosynth.data.images) or refused in one line, a mask must have its image's size, split
lists are disjoint and non-empty, and decompression bombs are refused before they are decoded."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fixtures_data import msra_b_stems, write_hku_is, write_msra_b
from fixtures_prepare import assert_one_line_refusal, png_claiming, prepare_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from evosynth.data.saliency import load_saliency, msra_b_split
from evosynth.errors import DataError

LISTS = ("train_cvpr2013.txt", "valid_cvpr2013.txt", "test_cvpr2013.txt")
#: Square salient patterns, 2×2 to 10×10, with at least one salient pixel.
PATTERNS = st.integers(2, 10).flatmap(lambda side: arrays(np.bool_, (side, side))).filter(np.any)
#: A foreground colour (its brightest channel at least 128, half the scale) and a background one (all below).
FOREGROUND = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 2),
                       st.integers(128, 255)).map(lambda c: tuple(c[4] if i == c[3] else c[i] for i in range(3)))
BACKGROUND = st.tuples(st.integers(0, 127), st.integers(0, 127), st.integers(0, 127))


def _hku(root: Path, masks: list[Image.Image], suffix: str = ".png",
         image_sizes: list[tuple[int, int]] | None = None) -> list[Path]:
    """An HKU-IS copy: grey images of each mask's size (or ``image_sizes``, width × height) and the masks."""
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    (root / "gt").mkdir(exist_ok=True)
    paths = []
    for i, mask in enumerate(masks):
        width, height = mask.size if image_sizes is None else image_sizes[i]
        Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(root / "imgs" / f"{i:04d}.png")
        mask.save(root / "gt" / f"{i:04d}{suffix}")
        paths.append(root / "gt" / f"{i:04d}{suffix}")
    return paths


def _palette(index: np.ndarray, colours: list[tuple[int, int, int]]) -> Image.Image:
    image = Image.frombytes("P", index.shape[::-1], index.astype(np.uint8).tobytes())
    image.putpalette([v for colour in colours for v in colour])
    return image


def _mask(pattern: np.ndarray, form: str, fg: tuple, bg: tuple, fg16: int, bg16: int) -> Image.Image:
    """``pattern`` (True = salient) stored in one of the formats a saliency mask comes in."""
    where = pattern[..., None]
    if form == "grey 0/255":
        return Image.fromarray(pattern.astype(np.uint8) * 255)
    if form == "grey 0/1":
        return Image.fromarray(pattern.astype(np.uint8))
    if form == "grey soft":  # a level at or above 128 is salient, below is background
        return Image.fromarray(np.where(pattern, max(fg), max(bg)).astype(np.uint8))
    if form == "bilevel":
        return Image.fromarray(pattern)
    if form == "palette":
        return _palette(pattern, [bg, fg])
    if form == "colour":
        return Image.fromarray(np.where(where, fg, bg).astype(np.uint8))
    if form == "colour, opaque alpha":
        return Image.fromarray(np.where(where, fg + (255,), bg + (255,)).astype(np.uint8), "RGBA")
    if form == "16-bit 0/65535":
        return Image.fromarray(pattern.astype(np.uint16) * 65535)
    if form == "16-bit 0/1":
        return Image.fromarray(pattern.astype(np.uint16))
    assert form == "16-bit soft"
    return Image.fromarray(np.where(pattern, fg16, bg16).astype(np.uint16))


FORMS = ["grey 0/255", "grey 0/1", "grey soft", "bilevel", "palette", "colour", "colour, opaque alpha",
         "16-bit 0/65535", "16-bit 0/1", "16-bit soft"]
BMP_FORMS = FORMS[:6]  # what BMP stores


@settings(max_examples=80, deadline=None)
@given(pattern=PATTERNS, form=st.sampled_from(FORMS), fg=FOREGROUND, bg=BACKGROUND,
       fg16=st.integers(32768, 65535), bg16=st.integers(0, 32767), bmp=st.booleans())
def test_every_mask_format_is_read_by_its_rule(pattern, form, fg, bg, fg16, bg16, bmp):
    suffix = ".bmp" if bmp and form in BMP_FORMS else ".png"
    with tempfile.TemporaryDirectory() as tmp:
        _hku(Path(tmp), [_mask(pattern, form, fg, bg, fg16, bg16)], suffix)
        masks = load_saliency("hku_is", tmp, size=len(pattern))["test"].masks
    assert masks.shape == (1, 1, *pattern.shape)
    assert np.array_equal(masks[0, 0].numpy(), pattern.astype(np.uint8)), form


REFUSED = {  # form: words of the refusal after the mask's path
    "transparent colour": "mask with transparent pixels",
    "transparent grey": "mask with transparent pixels",
    "transparent palette": "mask with transparent pixels",
    "faint grey": "none reaching half the scale (128 of 255)",
    "faint colour": "none reaching half the scale (128 of 255)",
    "faint 16-bit": "none reaching half the scale (32768 of 65535)",
    "another size": "a mask must have its image's size",
}


@settings(max_examples=60, deadline=None)
@given(pattern=PATTERNS, form=st.sampled_from(sorted(REFUSED)), level=st.integers(2, 127),
       level16=st.integers(2, 32767), alpha=st.integers(0, 254),
       grow=st.tuples(st.integers(-1, 2), st.integers(-1, 2)).filter(lambda d: d != (0, 0)))
def test_masks_no_rule_maps_are_refused_in_one_line(pattern, form, level, level16, alpha, grow):
    side = len(pattern)
    values = np.where(pattern, 255, 0).astype(np.uint8)
    opacity = np.full(pattern.shape, 255, np.uint8)
    opacity[0, 0] = alpha
    image_size = None
    if form == "transparent colour":
        mask = Image.fromarray(np.stack([values, values, values, opacity], axis=-1), "RGBA")
    elif form == "transparent grey":
        mask = Image.fromarray(np.stack([values, opacity], axis=-1), "LA")
    elif form == "transparent palette":
        index = pattern.astype(np.uint8)
        index[0, 0] = 0
        mask = _palette(index, [(0, 0, 0), (255, 255, 255)])
        mask.info["transparency"] = 0
    elif form == "faint grey":
        mask = Image.fromarray(np.where(pattern, level, 0).astype(np.uint8))
    elif form == "faint colour":
        mask = Image.fromarray(np.where(pattern[..., None], (level, level // 2, 0), 0).astype(np.uint8))
    elif form == "faint 16-bit":
        mask = Image.fromarray(np.where(pattern, level16, 0).astype(np.uint16))
    else:
        mask, image_size = Image.fromarray(values), (side + grow[0], side + grow[1])
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = _hku(Path(tmp), [mask], image_sizes=None if image_size is None else [image_size])
        if form == "transparent palette":
            mask.save(path, transparency=0)
        with pytest.raises(DataError) as caught:
            load_saliency("hku_is", tmp, size=side)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and REFUSED[form] in message, message


POOL = msra_b_stems(6)


@settings(max_examples=80, deadline=None)
@given(lists=st.tuples(*[st.lists(st.sampled_from(POOL), max_size=4)] * 3))
def test_split_lists_are_used_only_when_disjoint_and_non_empty(lists):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for names, file in zip(lists, LISTS):
            (root / file).write_text("".join(f"{stem}.jpg\n" for stem in names))
        named = [stem for names in lists for stem in names]
        if all(lists) and len(set(named)) == len(named):
            splits, how = msra_b_split(root, POOL)
            assert how == "lists" and [splits[k] for k in ("train", "val", "test")] == list(lists)
        else:
            with pytest.raises(DataError, match=r"cvpr2013\.txt") as caught:
                msra_b_split(root, POOL)
            assert "\n" not in str(caught.value)


# ------------------------------------------------- the failures as a user met them, through `evosynth prepare`
def test_masks_stored_as_0_1_are_salient_on_the_data_card(tmp_path, monkeypatch, capsys):
    write_hku_is(tmp_path / "raw", n=3, side=16)
    salient = 0
    for path in sorted((tmp_path / "raw" / "gt").iterdir()):
        with Image.open(path) as mask:
            values = np.asarray(mask) // 255
        Image.fromarray(values.astype(np.uint8)).save(path)  # 0/1, as many tools write masks
        salient += int(values.sum())
    code, stderr = prepare_cli(tmp_path, {"source": "hku_is", "root": "raw", "image_size": 16}, monkeypatch, capsys)
    assert code == 0, stderr
    card = json.loads((tmp_path / "out" / "mine.card.json").read_text())
    assert card["test"]["per_class"] == [3 * 16 * 16 - salient, salient] and salient > 0
    with np.load(tmp_path / "out" / "mine.npz") as prepared:
        assert int(prepared["y_test"].sum()) == salient


def test_a_palette_mask_with_a_red_foreground_is_salient(tmp_path):
    pattern = np.zeros((12, 12), bool)
    pattern[3:9, 2:7] = True
    _hku(tmp_path, [_palette(pattern, [(0, 0, 0), (255, 0, 0)])])  # red is grey 76 in Pillow's L
    masks = load_saliency("hku_is", tmp_path, size=12)["test"].masks
    assert np.array_equal(masks[0, 0].numpy(), pattern.astype(np.uint8))
    resized = load_saliency("hku_is", tmp_path, size=6)["test"].masks  # resized like its image
    assert resized[0, 0].sum().item() == pytest.approx(pattern.sum() / 4, abs=3)


def test_a_mask_of_another_size_is_refused_not_stretched(tmp_path, monkeypatch, capsys):
    write_hku_is(tmp_path / "raw", n=3, side=16)
    mask = tmp_path / "raw" / "gt" / "0005.png"
    with Image.open(mask) as image:
        image.resize((16, 20)).save(mask)
    code, stderr = prepare_cli(tmp_path, {"source": "hku_is", "root": "raw", "image_size": 8}, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr,
                            f"{mask.relative_to(tmp_path)}: mask of 16×20 pixels for an image of 16×16")


@pytest.mark.parametrize("lists, words", [
    ((3, 1, 2), None),  # the first test image also listed for training
    ((0, 0, 0), "train_cvpr2013.txt names no image"),
    ((4, 2, 0), "test_cvpr2013.txt names no image"),
], ids=["overlapping", "all empty", "test empty"])
def test_bad_split_lists_stop_prepare_in_one_line(tmp_path, monkeypatch, capsys, lists, words):
    written = write_msra_b(tmp_path / "raw", n=6, lists=lists)
    if lists == (3, 1, 2):
        train = tmp_path / "raw" / LISTS[0]
        train.write_text(train.read_text() + f"{written['test'][0]}.jpg\n")
        words = f"raw/{LISTS[0]} and raw/{LISTS[2]} share 1 image(s), e.g. {written['test'][0]!r}"
    code, stderr = prepare_cli(tmp_path, {"source": "msra_b", "root": "raw", "image_size": 8}, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr, words)


def test_a_copy_too_small_to_split_is_refused(tmp_path):
    write_msra_b(tmp_path, n=1)
    with pytest.raises(DataError, match="1 image.s. give 0 training and 1 test images"):
        load_saliency("msra_b", tmp_path, size=8)


def test_a_split_without_any_salient_pixel_is_refused(tmp_path):
    _hku(tmp_path, [Image.fromarray(np.zeros((6, 6), np.uint8))] * 2)
    with pytest.raises(DataError, match="no salient pixel in any of the 2 test masks"):
        load_saliency("hku_is", tmp_path, size=6)


@pytest.mark.parametrize("which", ["imgs", "gt"])
def test_decompression_bombs_are_refused_in_one_line(tmp_path, monkeypatch, capsys, which):
    stems = write_hku_is(tmp_path / "raw", n=3, side=16)
    bomb = png_claiming(tmp_path / "raw" / which / f"{stems[1]}.png", 20000, 20000)  # 400 megapixels, 60 bytes
    code, stderr = prepare_cli(tmp_path, {"source": "hku_is", "root": "raw", "image_size": 8}, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr,
                            f"{bomb.relative_to(tmp_path)}: refused as a possible decompression bomb")


def test_images_above_pillows_warning_limit_are_refused_too(tmp_path, monkeypatch, capsys):
    write_msra_b(tmp_path / "raw", n=6, side=16)
    big = tmp_path / "raw" / f"{msra_b_stems(6)[4]}.jpg"
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 400 pixels: Pillow would only warn
    code, stderr = prepare_cli(tmp_path, {"source": "msra_b", "root": "raw", "image_size": 8}, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr,
                            f"{big.relative_to(tmp_path)}: refused as a possible decompression bomb", "400 pixels")


def test_a_16_bit_image_keeps_its_high_byte(tmp_path):
    pattern = np.zeros((8, 8), bool)
    pattern[2:6, 2:6] = True
    ramp = (np.arange(64).reshape(8, 8) * 1000 + 300).astype(np.uint16)
    _hku(tmp_path, [_mask(pattern, "grey 0/255", (), (), 0, 0)])
    Image.fromarray(ramp).save(tmp_path / "imgs" / "0000.png")
    images = load_saliency("hku_is", tmp_path, size=8)["test"].images
    assert np.array_equal(images[0].numpy(), np.repeat((ramp >> 8).astype(np.uint8)[None], 3, axis=0))
