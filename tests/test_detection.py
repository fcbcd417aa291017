"""KITTI loader, difficulty filters, devkit AP, and YOLOv2 targets, loss and decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fixtures_detection import FRAMES, Obj, label_line, write_kitti
from torch import nn

from evosynth.data.kitti import (
    CAR,
    DONT_CARE,
    OTHER,
    PAD,
    PEDESTRIAN,
    PERSON_SITTING,
    VAN,
    ImageObjects,
    list_frames,
    load_frames,
    load_kitti,
    parse_labels,
    split_frames,
    yolo_classes,
)
from evosynth.errors import DataError
from evosynth.tasks.kitti_ap import DIFFICULTIES, average_precision, box_overlap, kitti_ap, passes_difficulty
from evosynth.tasks.yolo import (
    IGNORE_REGION,
    KITTI_ANCHORS,
    Detections,
    anchor_clusters,
    box_iou,
    decode,
    encode_targets,
    non_max_suppression,
    yolo_loss,
)

# ------------------------------------------------------------ difficulty
# (label line fields: type truncated occluded box) → counts at (easy, moderate, hard)
DIFFICULTY_CASES = [
    (Obj("Car", (0, 100.0, 50, 140.0), 0.15, 0), (True, True, True)),  # every limit of easy exactly
    (Obj("Car", (0, 100.0, 50, 139.99), 0.0, 0), (False, True, True)),  # 39.99 px: below easy's 40
    (Obj("Car", (0, 100.0, 50, 200.0), 0.16, 0), (False, True, True)),  # truncation above 0.15
    (Obj("Car", (0, 100.0, 50, 200.0), 0.0, 1), (False, True, True)),  # partly occluded
    (Obj("Car", (0, 100.0, 50, 125.0), 0.30, 1), (False, True, True)),  # every limit of moderate exactly
    (Obj("Car", (0, 100.0, 50, 124.99), 0.0, 0), (False, False, False)),  # 24.99 px: below 25
    (Obj("Car", (0, 100.0, 50, 200.0), 0.31, 0), (False, False, True)),  # truncation above 0.30
    (Obj("Car", (0, 100.0, 50, 200.0), 0.0, 2), (False, False, True)),  # largely occluded
    (Obj("Car", (0, 100.0, 50, 125.0), 0.50, 2), (False, False, True)),  # every limit of hard exactly
    (Obj("Car", (0, 100.0, 50, 200.0), 0.51, 0), (False, False, False)),  # truncation above 0.50
    (Obj("Car", (0, 100.0, 50, 200.0), 0.0, 3), (False, False, False)),  # occlusion unknown
]


def test_difficulty_filters_match_the_devkit_limits_on_label_lines() -> None:
    assert DIFFICULTIES["easy"].min_height == 40 and DIFFICULTIES["moderate"].max_truncation == 0.30
    objects = parse_labels("\n".join(label_line(o) for o, _ in DIFFICULTY_CASES))
    heights = objects.boxes[:, 3] - objects.boxes[:, 1]
    for column, difficulty in enumerate(("easy", "moderate", "hard")):
        got = passes_difficulty(heights, objects.occlusion, objects.truncation, difficulty)
        expected = [answers[column] for _, answers in DIFFICULTY_CASES]
        assert got.tolist() == expected, difficulty


# -------------------------------------------------------------------- AP
def truth(*objects: tuple[int, tuple[float, ...], float, int]) -> ImageObjects:
    """Ground truth of one image from (label code, box, truncation, occlusion)."""
    return ImageObjects(
        np.array([o[0] for o in objects], dtype=np.int64),
        np.array([o[1] for o in objects], dtype=np.float64).reshape(-1, 4),
        np.array([o[2] for o in objects], dtype=np.float64),
        np.array([o[3] for o in objects], dtype=np.int64),
    )


def dets(*rows: tuple[tuple[float, ...], float, int]) -> Detections:
    """Detections of one image from (box, score, class)."""
    return Detections(
        np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.int64),
    )


CAR_A, CAR_B = (100.0, 100.0, 200.0, 180.0), (300.0, 100.0, 400.0, 180.0)
PED_A, PED_B = (500.0, 80.0, 540.0, 180.0), (600.0, 80.0, 640.0, 180.0)


def test_perfect_detections_give_ap_one_for_every_class_and_difficulty() -> None:
    truths = [
        truth((CAR, CAR_A, 0.0, 0), (PEDESTRIAN, PED_A, 0.0, 0)),
        truth((CAR, CAR_B, 0.1, 0), (PEDESTRIAN, PED_B, 0.0, 0), (DONT_CARE, (0.0, 0.0, 50.0, 50.0), -1.0, -1)),
    ]
    detections = [dets((CAR_A, 0.9, 0), (PED_A, 0.8, 1)), dets((CAR_B, 0.7, 0), (PED_B, 0.6, 1))]
    for points in (40, 11):
        ap = kitti_ap(detections, truths, points=points)
        assert set(ap) == {f"ap_{c}_{d}" for c in ("car", "pedestrian") for d in ("easy", "moderate", "hard")}
        assert all(v == 1.0 for v in ap.values()), (points, ap)
    # the devkit's shortcut indexes precision by threshold, one per recall step of about 1/40: with two
    # ground truths only indices 0 and 1 are filled, so R40 (indices 1…40) = 1/40 and R11 (0, 4 … 40) = 1/11
    assert kitti_ap(detections, truths, 40, "devkit")["ap_car_easy"] == pytest.approx(1 / 40)
    assert kitti_ap(detections, truths, 11, "devkit")["ap_pedestrian_hard"] == pytest.approx(1 / 11)
    # a class without any counted ground truth has no AP
    assert math.isnan(average_precision([dets()], [truth((CAR, CAR_A, 0.0, 0))], PEDESTRIAN, "easy"))


def test_one_of_two_cars_missed_gives_the_interpolated_values() -> None:
    truths = [truth((CAR, CAR_A, 0.0, 0), (CAR, CAR_B, 0.0, 0))]
    found_one = [dets((CAR_A, 0.9, 0))]
    # precision 1 up to recall 0.5, nothing beyond: R40 = 20/40, R11 = 6/11 (recall 0, 0.1 … 0.5)
    assert average_precision(found_one, truths, CAR, "easy", points=40) == pytest.approx(0.5)
    assert average_precision(found_one, truths, CAR, "easy", points=11) == pytest.approx(6 / 11)
    # the devkit's ≤41-threshold shortcut reads precision by threshold index: on two ground truths its
    # single threshold lands on index 0, so R40 (indices 1…40) is 0 and R11 is 1/11
    assert average_precision(found_one, truths, CAR, "easy", points=40, sampling="devkit") == 0.0
    assert average_precision(found_one, truths, CAR, "easy", points=11, sampling="devkit") == pytest.approx(1 / 11)
    # a false positive ranked first halves the precision at every recall
    with_fp = [dets(((600.0, 100.0, 700.0, 180.0), 0.95, 0), (CAR_A, 0.9, 0))]
    assert average_precision(with_fp, truths, CAR, "easy", points=40) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("ignored", "cls", "difficulty"),
    [
        ((CAR, CAR_B, 0.0, 2), CAR, "easy"),  # a hard-only car at easy
        ((CAR, CAR_B, 0.0, 2), CAR, "moderate"),  # ... and at moderate
        ((VAN, CAR_B, 0.0, 0), CAR, "hard"),  # the neighbour class of car
        ((DONT_CARE, CAR_B, -1.0, -1), CAR, "moderate"),  # a DontCare region
        ((PERSON_SITTING, PED_B, 0.0, 0), PEDESTRIAN, "easy"),  # the neighbour class of pedestrian
    ],
)
def test_a_detection_on_an_ignored_box_is_neither_true_nor_false_positive(ignored, cls, difficulty) -> None:
    counted = (cls, CAR_A if cls == CAR else PED_A, 0.0, 0)
    on_ignored = ignored[1]
    # the detection on the ignored box ranks first: as a false positive it would give AP 0.5
    detections = [dets((on_ignored, 0.95, cls), (counted[1], 0.9, cls))]
    assert average_precision(detections, [truth(counted, ignored)], cls, difficulty) == pytest.approx(1.0)
    # the same detection on an object that is not ignored (a truck, a cyclist) is a false positive
    other = (OTHER, ignored[1], 0.0, 0)
    assert average_precision(detections, [truth(counted, other)], cls, difficulty) == pytest.approx(0.5)


def test_each_ground_truth_takes_its_largest_overlap_and_dont_care_absorbs_the_loser() -> None:
    shifted = (105.0, 100.0, 205.0, 180.0)  # IoU 0.905 with CAR_A
    detections = [dets((shifted, 0.95, 0), (CAR_A, 0.8, 0), (CAR_B, 0.7, 0))]
    cars = [(CAR, CAR_A, 0.0, 0), (CAR, CAR_B, 0.0, 0)]
    # at score 0.8 CAR_A takes the exact box (largest IoU), not the best-scored one, which becomes a false
    # positive: precision 1 up to recall 0.5, then 2/3 at recall 1
    assert average_precision(detections, [truth(*cars)], CAR, "easy") == pytest.approx((20 + 20 * 2 / 3) / 40)
    dont_care = (DONT_CARE, (100.0, 90.0, 210.0, 190.0), -1.0, -1)  # covers the shifted box
    assert average_precision(detections, [truth(*cars, dont_care)], CAR, "easy") == pytest.approx(1.0)


def test_a_hard_only_car_counts_at_hard_and_small_detections_are_ignored() -> None:
    truths = [truth((CAR, CAR_A, 0.0, 0), (CAR, CAR_B, 0.0, 2))]
    assert average_precision([dets((CAR_A, 0.9, 0))], truths, CAR, "hard") == pytest.approx(0.5)
    assert average_precision([dets((CAR_A, 0.9, 0))], truths, CAR, "easy") == pytest.approx(1.0)
    # an unmatched detection 20 px high is ignored at moderate (min 25 px); one 30 px high is a false positive
    small = ((600.0, 100.0, 650.0, 120.0), 0.95, 0)
    tall = ((600.0, 100.0, 650.0, 130.0), 0.95, 0)
    one = [truth((CAR, CAR_A, 0.0, 0))]
    assert average_precision([dets(small, (CAR_A, 0.9, 0))], one, CAR, "moderate") == pytest.approx(1.0)
    assert average_precision([dets(tall, (CAR_A, 0.9, 0))], one, CAR, "moderate") == pytest.approx(0.5)


@pytest.mark.parametrize(("cls", "below", "above"), [(CAR, 0.69, 0.71), (PEDESTRIAN, 0.49, 0.51)])
def test_iou_threshold_is_0_7_for_cars_and_0_5_for_pedestrians(cls, below, above) -> None:
    gt_box = (0.0, 0.0, 100.0, 100.0)
    truths = [truth((cls, gt_box, 0.0, 0))]
    for iou, expected in ((below, 0.0), (above, 1.0)):
        box = (0.0, 0.0, 100.0, 100.0 * iou)  # still ≥ 40 px high, so the detection counts at easy
        assert box_overlap([box], [gt_box])[0, 0] == pytest.approx(iou)
        assert average_precision([dets((box, 0.9, cls))], truths, cls, "easy") == expected, iou


def test_devkit_sampling_agrees_with_exact_recall_points_on_many_ground_truths() -> None:
    rng = np.random.default_rng(0)
    truths, detections = [], []
    for _ in range(100):  # 800 cars, 80 % found with jittered boxes, some false positives
        boxes = np.array([[120.0 * i, 50.0, 120.0 * i + 100, 150.0] for i in range(8)])
        truths.append(truth(*[(CAR, tuple(b), 0.0, 0) for b in boxes]))
        found = boxes[rng.random(8) < 0.8] + rng.normal(0, 3, (1, 4))
        false = np.array([[1000.0, 200.0, 1100.0, 300.0]] * int(rng.integers(0, 3)))
        scores = np.concatenate([0.4 + 0.6 * rng.random(len(found)), 0.8 * rng.random(len(false))])
        detections.append(dets(*[(tuple(b), s, 0) for b, s in zip(np.vstack([found, false.reshape(-1, 4)]), scores)]))
    for points in (40, 11):
        exact = average_precision(detections, truths, CAR, "easy", points)
        devkit = average_precision(detections, truths, CAR, "easy", points, sampling="devkit")
        assert 0.6 < exact < 0.9 and devkit == pytest.approx(exact, abs=0.03), points


def test_ap_pools_images_and_counts_each_ground_truth_once() -> None:
    # two detections on one car: the second is a false positive; a missed car in a second image
    truths = [truth((CAR, CAR_A, 0.0, 0)), truth((CAR, CAR_B, 0.0, 0))]
    detections = [dets((CAR_A, 0.9, 0), ((101.0, 100.0, 201.0, 180.0), 0.8, 0)), dets()]
    # recall 0.5 at precision 1 (threshold 0.9), then precision 0.5 at the same recall
    assert average_precision(detections, truths, CAR, "easy") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="detection sets"):
        average_precision(detections[:1], truths, CAR, "easy")


# ---------------------------------------------------------------- loader
def test_loader_reads_the_published_layout(tmp_path) -> None:
    root = write_kitti(tmp_path / "kitti")
    split = load_kitti(root, image_size=64, subset="all")
    assert split.frames == ["000000", "000001", "000002", "000003"]
    assert split.images.shape == (4, 3, 64, 64) and split.images.dtype == torch.uint8
    for i, spec in enumerate(FRAMES.values()):  # solid colours survive reading and resizing, RGB in CHW
        assert split.images[i, :, 32, 32].tolist() == list(spec.colour)
    assert split.original_sizes.tolist() == [[375, 1242], [370, 1224], [375, 1242], [375, 1242]]
    assert split.labels.shape == (4, 3)
    assert split.labels.tolist() == [
        [CAR, CAR, DONT_CARE], [PEDESTRIAN, VAN, OTHER], [CAR, PEDESTRIAN, PAD], [DONT_CARE, PAD, PAD]
    ]
    assert split.occlusion[0, :2].tolist() == [0, 1] and split.truncation[2, 0].item() == pytest.approx(0.4)
    # boxes scaled per axis to the 64×64 input; originals kept for the difficulty filter
    assert split.boxes[1, 0].tolist() == pytest.approx([400 * 64 / 1224, 120 * 64 / 370, 440 * 64 / 1224, 220 * 64 / 370])
    assert split.original_boxes[1, 0].tolist() == [400.0, 120.0, 440.0, 220.0]
    assert split.to_original(1, split.boxes[1, 0]).tolist() == pytest.approx([400.0, 120.0, 440.0, 220.0], abs=1e-3)
    objects = split.objects(2)
    assert objects.labels.tolist() == [CAR, PEDESTRIAN] and objects.boxes.shape == (2, 4)
    assert yolo_classes(split.labels[1]).tolist() == [1, IGNORE_REGION, -1]  # Pedestrian, Van, Cyclist
    assert yolo_classes(split.labels[0]).tolist() == [0, 0, IGNORE_REGION]  # Car, Car, DontCare
    assert yolo_classes(split.labels[3]).tolist() == [IGNORE_REGION, -1, -1]  # DontCare, padding


def test_train_val_split_is_seeded_disjoint_and_accepts_a_frame_list(tmp_path) -> None:
    frames = [f"{i:06d}" for i in range(20)]
    train, val = split_frames(frames, val_fraction=0.25, seed=3)
    assert (train, val) == split_frames(frames, val_fraction=0.25, seed=3)
    assert len(val) == 5 and sorted(train + val) == frames and not set(train) & set(val)
    assert split_frames(frames, 0.25, seed=4) != (train, val)
    listing = tmp_path / "val.txt"
    listing.write_text("000002\n000007\n\n")
    assert split_frames(frames, val_list=listing)[1] == ["000002", "000007"]
    listing.write_text("000002\n999999\n")
    with pytest.raises(DataError, match="999999"):
        split_frames(frames, val_list=listing)
    root = write_kitti(tmp_path / "kitti")
    train_split = load_kitti(root, 32, "train", val_fraction=0.5, seed=0)
    val_split = load_kitti(root, 32, "val", val_fraction=0.5, seed=0)
    assert sorted(train_split.frames + val_split.frames) == list(FRAMES) and len(val_split.frames) == 2


@pytest.mark.parametrize("missing", ["image_2", "label_2"])
def test_missing_folder_names_the_expected_layout(tmp_path, missing) -> None:
    root = write_kitti(tmp_path / "kitti")
    for path in (root / "training" / missing).iterdir():
        path.unlink()
    (root / "training" / missing).rmdir()
    with pytest.raises(DataError) as error:
        load_kitti(root, 32)
    message = str(error.value)
    assert f"expected {root}/training/image_2/ and {root}/training/label_2/" in message
    assert missing in message.split(";")[0]


def test_a_label_without_image_and_malformed_lines_raise_data_errors(tmp_path) -> None:
    root = write_kitti(tmp_path / "kitti")
    (root / "training" / "image_2" / "000001.png").unlink()
    with pytest.raises(DataError, match="000001 have no image file"):
        list_frames(root)
    root = write_kitti(tmp_path / "kitti2")
    label = root / "training" / "label_2" / "000002.txt"
    good = label_line(Obj("Car", (1.0, 2.0, 30.0, 40.0)))
    cases = {
        " ".join(good.split()[:14]): "expected 15 fields",  # a field missing
        good.replace("Car", "Bus"): "unknown object type 'Bus'",
        good.replace("1.00", "one"): "must be numbers",
        good.replace("30.00", "0.50"): "right < left",
    }
    for line, reason in cases.items():
        label.write_text(good + "\n" + line + "\n")
        with pytest.raises(DataError) as error:
            load_frames(root, ["000002"], 32)
        assert f"{label}, line 2" in str(error.value) and reason in str(error.value)


# ------------------------------------------------------- YOLOv2 targets
def test_encode_assigns_the_centre_cell_and_best_shaped_anchor() -> None:
    anchors = torch.tensor([[1.0, 1.0], [1.0, 3.0]])
    boxes = torch.tensor([[[40.0, 8.0, 56.0, 88.0], [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 5.0, 5.0]]])
    classes = torch.tensor([[1, -1, IGNORE_REGION]])
    t = encode_targets(boxes, classes, anchors, grid=(4, 4), image_size=128)  # stride 32
    assert t.responsible.sum() == 1 and t.responsible[0, 1, 1, 1]  # centre (48, 48): cell (1, 1); 0.5×2.5 cells: tall anchor
    assert t.xy[0, 1, 1, 1].tolist() == pytest.approx([0.5, 0.5])
    assert t.wh[0, 1, 1, 1].tolist() == pytest.approx([math.log(0.5), math.log(2.5 / 3)])
    assert t.classes[0, 1, 1, 1] == 1 and t.boxes[0, 1, 1, 1].tolist() == boxes[0, 0].tolist()
    assert t.weight[0, 1, 1, 1].item() == pytest.approx(2 - 0.5 * 2.5 / 16)


def perfect_logits(boxes: torch.Tensor, classes: torch.Tensor, anchors, grid: int, size: int, c: int = 2) -> torch.Tensor:
    """The head output that encodes exactly the ground truths (objectness ±12, class logits ±12)."""
    t = encode_targets(boxes, classes, anchors, (grid, grid), size)
    n, a = boxes.shape[0], len(anchors)
    out = torch.zeros(n, a, grid, grid, 5 + c)
    out[..., 0:2] = torch.logit(t.xy.clamp(1e-6, 1 - 1e-6))
    out[..., 2:4] = t.wh
    out[..., 4] = torch.where(t.responsible, 12.0, -12.0)
    out[..., 5:] = -12.0
    r = t.responsible.nonzero(as_tuple=True)
    out[r + (5 + t.classes[r],)] = 12.0
    return out.permute(0, 1, 4, 2, 3).reshape(n, a * (5 + c), grid, grid)


def test_decode_of_perfect_logits_recovers_the_boxes_and_scores_ap_one(tmp_path) -> None:
    split = load_kitti(write_kitti(tmp_path / "kitti"), image_size=416, subset="all")
    classes = yolo_classes(split.labels)
    output = perfect_logits(split.boxes, classes, KITTI_ANCHORS, 13, 416)
    detections = decode(output, KITTI_ANCHORS, 416, score_threshold=0.5)
    for i, found in enumerate(detections):
        wanted = classes[i] >= 0
        expected = split.boxes[i][wanted]
        assert len(found.boxes) == int(wanted.sum()), split.frames[i]
        order = torch.argsort(found.boxes[:, 0])
        exp_order = torch.argsort(expected[:, 0])
        assert torch.allclose(found.boxes[order], expected[exp_order], atol=1.0)
        assert found.classes[order].tolist() == classes[i][wanted][exp_order].tolist()
        assert (found.scores > 0.99).all()
    # back in original pixels the devkit counts every detection a true positive
    originals = [Detections(split.to_original(i, d.boxes), d.scores, d.classes) for i, d in enumerate(detections)]
    truths = [split.objects(i) for i in range(len(split.frames))]
    ap = kitti_ap(originals, truths)
    assert ap["ap_car_easy"] == 1.0 and ap["ap_car_hard"] == 1.0 and ap["ap_pedestrian_easy"] == 1.0


def tiny_head(anchors: int = 5, classes: int = 2) -> nn.Module:
    """Five stride-2 convolutions (input/32, as YOLOv2) and a 1×1 output convolution."""
    layers, width = [], 3
    for out in (8, 16, 16, 32, 32):
        layers += [nn.Conv2d(width, out, 3, stride=2, padding=1), nn.LeakyReLU(0.1)]
        width = out
    return nn.Sequential(*layers, nn.Conv2d(width, anchors * (5 + classes), 1))


def test_loss_is_finite_and_decreases_under_sgd(tmp_path) -> None:
    torch.manual_seed(0)
    split = load_kitti(write_kitti(tmp_path / "kitti"), image_size=64, subset="all")
    x = split.images.float() / 255.0 - 0.5
    classes = yolo_classes(split.labels)
    head = tiny_head()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for _ in range(25):
        terms = yolo_loss(head(x), split.boxes, classes, KITTI_ANCHORS, 64)
        assert all(torch.isfinite(v) for v in terms), terms
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    assert terms.total.item() == pytest.approx(sum(v.item() for v in terms[1:]), rel=1e-5)
    assert losses[-1] < 0.5 * losses[0], losses
    # an image with nothing to detect has only the no-object term
    empty = yolo_loss(head(x[3:]), split.boxes[3:], classes[3:], KITTI_ANCHORS, 64)
    assert empty.box == 0 and empty.objectness == 0 and empty.classes == 0 and empty.no_object > 0


def test_no_object_term_spares_predictions_on_ignore_regions() -> None:
    anchors = ((1.0, 1.0),)
    region = torch.tensor([[[0.0, 0.0, 32.0, 32.0]]])  # exactly the box predicted by cell (0, 0) at zero logits
    output = torch.zeros(1, 1 * 7, 2, 2)
    ignored = yolo_loss(output, region, torch.tensor([[IGNORE_REGION]]), anchors, 64)
    background = yolo_loss(output, region, torch.tensor([[-1]]), anchors, 64)
    assert background.no_object.item() == pytest.approx(4 * 0.25)  # σ(0)² in each of the four cells
    assert ignored.no_object.item() == pytest.approx(3 * 0.25)


def test_nms_suppresses_overlaps_within_a_class_only() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0], [0.0, 0.0, 10.0, 10.0], [50.0, 50, 60, 60]])
    scores = torch.tensor([0.6, 0.9, 0.8, 0.1])
    assert non_max_suppression(boxes, scores, 0.5).tolist() == [1, 3]
    assert non_max_suppression(boxes, scores, 0.5, torch.tensor([0, 0, 1, 0])).tolist() == [1, 2, 3]
    assert box_iou(boxes[:1], boxes[1:2]).item() == pytest.approx(90 / 110)


def test_anchor_clusters_find_separated_box_shapes() -> None:
    generator = torch.Generator().manual_seed(0)
    wide = torch.tensor([4.0, 1.0]) * (1 + 0.05 * torch.randn(50, 2, generator=generator))
    tall = torch.tensor([0.5, 2.0]) * (1 + 0.05 * torch.randn(50, 2, generator=generator))
    centres = anchor_clusters(torch.cat([wide, tall]), k=2)
    assert centres.flatten().tolist() == pytest.approx([0.5, 2.0, 4.0, 1.0], abs=0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loss_and_decode_run_on_cuda() -> None:
    boxes = torch.tensor([[[10.0, 20.0, 60.0, 120.0]]], device="cuda")
    classes = torch.tensor([[0]], device="cuda")
    output = perfect_logits(boxes.cpu(), classes.cpu(), KITTI_ANCHORS, 4, 128).cuda().requires_grad_()
    terms = yolo_loss(output, boxes, classes, KITTI_ANCHORS, 128)
    terms.total.backward()
    found = decode(output.detach(), KITTI_ANCHORS, 128, score_threshold=0.5)[0]
    assert found.boxes.device.type == "cuda" and torch.allclose(found.boxes, boxes[0], atol=1.0)
