"""Saliency (EvoNet Sec. III): MAE and Fβ (β² = 0.3) on hand-made maps, the per-pixel loss,
and MSRA-B / HKU-IS read from fixtures in their published layouts."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from conftest import TINY_PARAMS, record
from fixtures_data import msra_b_stems, saliency_pair, write_hku_is, write_msra_b
from torch import nn

from evosynth.data.saliency import load_prepared_saliency, load_saliency, msra_b_split
from evosynth.data.sources import check_source, prepare
from evosynth.errors import DataError, ParamsError
from evosynth.pipeline.params import validate_params
from evosynth.tasks.saliency import (
    adaptive_f_beta,
    f_beta_curve,
    mae,
    max_f_beta,
    saliency_loss,
    saliency_map,
    saliency_scores,
)

# A 4×4 ground truth with 4 salient pixels (the top-left 2×2 block).
MASK = torch.zeros(4, 4)
MASK[:2, :2] = 1


def _map(values: dict[tuple[int, int], float], background: float = 0.0) -> torch.Tensor:
    out = torch.full((4, 4), background)
    for (r, c), v in values.items():
        out[r, c] = v
    return out


# --------------------------------------------------------------- metrics
def test_perfect_map():
    scores = saliency_scores(MASK.clone(), MASK)
    assert scores.mae == 0.0
    assert scores.f_beta == scores.precision == scores.recall == scores.max_f_beta == 1.0


def test_all_zero_map_scores_zero_and_mae_is_the_salient_fraction():
    scores = saliency_scores(torch.zeros(4, 4), MASK)
    assert scores.mae == pytest.approx(4 / 16)
    assert scores.f_beta == scores.precision == scores.recall == scores.max_f_beta == 0.0


def test_half_right_map_hand_computed():
    # Two of the four salient pixels and two background pixels: P = R = 1/2, so Fβ = 1/2.
    half = _map({(0, 0): 1, (0, 1): 1, (3, 3): 1, (3, 2): 1})
    assert mae(half, MASK) == pytest.approx(4 / 16)
    assert adaptive_f_beta(half, MASK) == pytest.approx((0.5, 0.5, 0.5))
    # Only two of the four salient pixels: P = 1, R = 1/2, Fβ = 1.3·0.5 / (0.3 + 0.5) = 0.8125
    # (β² = 1 would give 2/3: the weighting is the paper's).
    two = _map({(0, 0): 1, (0, 1): 1})
    assert mae(two, MASK) == pytest.approx(2 / 16)
    f, p, r = adaptive_f_beta(two, MASK)
    assert (p, r) == pytest.approx((1.0, 0.5)) and f == pytest.approx(0.8125)


def test_adaptive_threshold_is_twice_the_mean_and_max_f_scans_256_thresholds():
    # Salient 1, 1, 0.6, 0.6; background 0.2: mean 0.35, T = 0.7 keeps the two 1s -> Fβ 0.8125,
    # while any threshold between 0.2 and 0.6 separates the classes exactly -> max-Fβ 1.
    soft = _map({(0, 0): 1, (0, 1): 1, (1, 0): 0.6, (1, 1): 0.6}, background=0.2)
    assert mae(soft, MASK) == pytest.approx((0.4 + 0.4 + 12 * 0.2) / 16)
    assert adaptive_f_beta(soft, MASK)[0] == pytest.approx(0.8125)
    assert max_f_beta(soft, MASK) == pytest.approx(1.0)
    f, p, r = f_beta_curve(soft, MASK)
    assert f.shape == p.shape == r.shape == (256,)
    assert p[0].item() == pytest.approx(4 / 16) and r[0].item() == 1.0  # t = 0: every pixel (q = 51 > 0)
    assert f[255].item() == 0.0  # nothing is above 255


def test_precision_and_recall_are_averaged_over_images_before_f():
    maps = torch.stack([MASK.clone(), _map({(0, 0): 1, (0, 1): 1})])
    masks = torch.stack([MASK, MASK])[:, None]
    f, p, r = adaptive_f_beta(maps, masks)
    assert (p, r) == pytest.approx((1.0, 0.75))
    assert f == pytest.approx(1.3 * 0.75 / (0.3 + 0.75))  # not the mean of per-image Fβ, 0.90625
    assert mae(maps, masks) == pytest.approx((0 + 2 / 16) / 2)


def test_maps_must_fit_their_masks_and_lie_in_0_1():
    with pytest.raises(ValueError, match="differ in size"):
        mae(torch.zeros(2, 4, 4), torch.zeros(2, 1, 5, 5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adaptive_f_beta(MASK * 2, MASK)


# ------------------------------------------------------------------ loss
def test_loss_of_uniform_logits_is_log_2_and_coarse_logits_are_upsampled():
    masks = torch.stack([MASK, 1 - MASK])[:, None].to(torch.uint8)
    assert saliency_loss(torch.zeros(2, 2, 4, 4), masks).item() == pytest.approx(math.log(2))
    confident = torch.stack([1 - MASK, MASK], dim=0)[None].repeat(2, 1, 1, 1) * 20
    confident[1] = confident[1].flip(0)  # the second mask is the complement
    assert saliency_loss(confident, masks).item() < 1e-6
    coarse = saliency_loss(torch.zeros(2, 2, 2, 2), masks)
    assert coarse.item() == pytest.approx(math.log(2))
    assert saliency_map(torch.zeros(2, 2, 2, 2), (4, 4)).shape == (2, 4, 4)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        saliency_loss(torch.zeros(2, 3, 4, 4), masks)


def test_per_pixel_cross_entropy_trains_a_tiny_conv_net(tmp_path):
    write_msra_b(tmp_path, n=8, side=16)
    data = load_saliency("msra_b", tmp_path, size=16)["train"]
    x = data.images.float() / 255 - 0.5
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 1))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        optimiser.zero_grad()
        loss = saliency_loss(net(x), data.masks)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]
    scores = saliency_scores(saliency_map(net(x)), data.masks)
    assert scores.f_beta > 0.9 and scores.mae < 0.2  # the square's colour gives it away


# --------------------------------------------------------------- MSRA-B
def test_msra_b_split_from_the_lists_in_their_order(tmp_path):
    written = write_msra_b(tmp_path, n=12, lists=(5, 2, 3), side=24)
    sets = load_saliency("msra_b", tmp_path, size=24)
    assert {k: len(v.names) for k, v in sets.items()} == {"train": 5, "val": 2, "test": 3}
    assert {k: list(v.names) for k, v in sets.items()} == written
    train = sets["train"]
    assert train.images.dtype == train.masks.dtype == torch.uint8
    assert train.images.shape == (5, 3, 24, 24) and train.masks.shape == (5, 1, 24, 24)
    image, mask = saliency_pair(24, 0)  # no resize: the mask is the written one, binarised
    assert torch.equal(train.masks[0, 0], torch.from_numpy(mask // 255))
    # JPEG is lossy: the salient square's colour, near enough, at the right place and orientation.
    assert np.abs(train.images[0, :, 12, 12].numpy().astype(int) - image[12, 12]).max() < 25
    assert np.abs(train.images[0, :, 1, 1].numpy().astype(int) - image[1, 1]).max() < 25


def test_msra_b_resized_masks_are_binary(tmp_path):
    write_msra_b(tmp_path, n=4, layout="folders", side=24)
    test = load_saliency("msra_b", tmp_path, size=10)["test"]
    assert test.images.shape[1:] == (3, 10, 10)
    assert set(test.masks.unique().tolist()) == {0, 1}
    _, mask = saliency_pair(24, int(msra_b_stems(4).index(test.names[0])))
    assert abs(test.masks[0].float().mean().item() - (mask > 0).mean()) < 0.1


def test_msra_b_fallback_split_is_seeded_2500_500_2000(tmp_path):
    stems = [f"img{i:04d}" for i in range(5000)]
    splits, how = msra_b_split(tmp_path, stems)
    assert how == "seeded"
    assert [len(splits[k]) for k in ("train", "val", "test")] == [2500, 500, 2000]
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == stems
    assert msra_b_split(tmp_path, list(reversed(stems)))[0] == splits  # the order on disk does not matter
    assert msra_b_split(tmp_path, stems, seed=1)[0]["train"] != splits["train"]


def test_msra_b_fallback_on_a_small_copy_keeps_the_proportions(tmp_path):
    write_msra_b(tmp_path, n=10)
    sets = load_saliency("msra_b", tmp_path, size=16)
    assert {k: len(v.names) for k, v in sets.items()} == {"train": 5, "val": 1, "test": 4}
    assert sorted(sum((list(v.names) for v in sets.values()), [])) == sorted(msra_b_stems(10))


def test_prepare_msra_b_writes_masks_and_a_card(tmp_path):
    write_msra_b(tmp_path / "raw", n=12, lists=(5, 2, 3))
    spec = {"source": "msra_b", "root": str(tmp_path / "raw"), "image_size": 16}
    assert check_source(spec) is None
    card = prepare(spec, tmp_path / "m.npz", tmp_path / "m.card.json")
    record(tmp_path / "m.npz", tmp_path / "m.card.json")  # what the prepare step adds
    assert card["split"] == "lists" and card["num_classes"] == 2
    assert [card[k]["count"] for k in ("train", "val", "test")] == [5, 2, 3]
    assert sum(card["train"]["per_class"]) == 5 * 16 * 16 and card["train"]["per_class"][1] > 0
    with np.load(tmp_path / "m.npz") as prepared:
        assert prepared["x_val"].shape == (2, 3, 16, 16) and prepared["y_test"].shape == (3, 1, 16, 16)
    data = load_prepared_saliency(tmp_path / "m.npz", train_size=3)
    assert data.x_train.shape == (3, 3, 16, 16) and data.x_train.dtype == torch.float32
    assert data.y_val.shape == (2, 1, 16, 16) and data.y_train.dtype == torch.uint8
    assert data.x_test.min() < 0 < data.x_test.max()  # ImageNet-normalised


# --------------------------------------------------------------- HKU-IS
def test_hku_is_is_read_whole_as_a_test_set(tmp_path):
    stems = write_hku_is(tmp_path / "HKU-IS", n=5)
    spec = {"source": "hku_is", "root": str(tmp_path / "HKU-IS"), "image_size": 24}
    sets = load_saliency("hku_is", spec["root"], size=24)
    assert list(sets) == ["test"] and list(sets["test"].names) == stems
    _, mask = saliency_pair(24, 3)
    assert torch.equal(sets["test"].masks[3, 0], torch.from_numpy(mask // 255))  # PNG: lossless
    card = prepare(spec, tmp_path / "h.npz", tmp_path / "h.json")
    record(tmp_path / "h.npz", tmp_path / "h.json")
    assert card["train"]["count"] == 0 and card["test"]["count"] == 5
    data = load_prepared_saliency(tmp_path / "h.npz")
    assert data.x_train.shape == (0, 3, 24, 24) and data.x_test.shape == (5, 3, 24, 24) and data.x_val is None


# ----------------------------------------------------------- bad copies
@pytest.mark.parametrize("source, layout", [("msra_b", "*.jpg with masks *.png"), ("hku_is", "imgs/")])
def test_missing_folders_name_the_expected_layout(tmp_path, source, layout):
    spec = {"source": source, "root": str(tmp_path / "nothing")}
    assert layout in check_source(spec)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="dataset files not found") as caught:
        prepare({"source": source, "root": str(tmp_path / "empty")}, tmp_path / "o.npz", tmp_path / "o.json")
    assert layout in str(caught.value)
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("source", ["msra_b", "hku_is"])
def test_an_image_without_its_mask_is_named(tmp_path, source):
    if source == "msra_b":
        stem = write_msra_b(tmp_path, n=4)["all"][2]
        (tmp_path / f"{stem}.png").unlink()
        image = tmp_path / f"{stem}.jpg"
    else:
        stem = write_hku_is(tmp_path, n=4)[2]
        (tmp_path / "gt" / f"{stem}.png").unlink()
        image = tmp_path / "imgs" / f"{stem}.png"
    with pytest.raises(DataError, match=f"{image} has no mask"):
        load_saliency(source, tmp_path, size=8)
    assert str(image) in check_source({"source": source, "root": str(tmp_path)})


def test_bad_split_lists_are_named(tmp_path):
    written = write_msra_b(tmp_path, n=6, lists=(3, 1, 2))
    (tmp_path / "test_cvpr2013.txt").write_text(f"{written['test'][0]}.jpg\nnot_there.jpg\n")
    with pytest.raises(DataError, match="'not_there' named in .*test_cvpr2013.txt not found"):
        load_saliency("msra_b", tmp_path, size=8)
    (tmp_path / "valid_cvpr2013.txt").unlink()
    with pytest.raises(DataError, match="valid_cvpr2013.txt missing"):
        load_saliency("msra_b", tmp_path, size=8)


def test_an_unreadable_image_is_named(tmp_path):
    stems = write_hku_is(tmp_path, n=3)
    (tmp_path / "imgs" / f"{stems[1]}.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=f"{stems[1]}.png: not a readable image"):
        load_saliency("hku_is", tmp_path, size=8)


def test_params_accept_the_new_sources(tmp_path):
    raw = copy.deepcopy(TINY_PARAMS)
    raw["datasets"] |= {"msra": {"source": "msra_b", "image_size": 224}, "hku": {"source": "hku_is"},
                        "stl": {"source": "stl10", "download": True}}
    assert set(validate_params(raw)["datasets"]) == {"digits", "msra", "hku", "stl"}
    raw["datasets"]["hku"]["source"] = "hku-is"
    with pytest.raises(ParamsError, match="datasets.hku.source"):
        validate_params(raw)
