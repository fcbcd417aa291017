"""What the numbers of a KITTI label line must hold: the ranges of the object devkit's ``readme.txt``.

A label line is ``type truncated occluded alpha left top right bottom height width length x y z
rotation_y`` (:mod:`evosynth.data.kitti` parses it). The devkit documents each field:

==============  =========================================================================
field           accepted
==============  =========================================================================
truncated       a float from 0 (non-truncated) to 1 (leaving the image)
occluded        an integer 0 (fully visible), 1 (partly), 2 (largely occluded), 3 (unknown)
alpha           the observation angle, in [-π, π]
bbox            0-based pixel coordinates inside the image: 0 ≤ left < right ≤ width - 1 and
                0 ≤ top < bottom ≤ height - 1, so a box has positive area (KITTI clips its
                boxes to the image: 1241.00 is the last column of a 1242-pixel-wide frame)
dimensions      height, width, length in metres, each ≥ 0
location        x, y, z in camera coordinates (metres): any finite value
rotation_y      the rotation about the camera's Y axis, in [-π, π]
==============  =========================================================================

Every number must be finite. An angle may exceed π by the 0.0005 that printing π with three or
more decimals adds (3.142). ``DontCare`` lines only mark regions to ignore; KITTI's label files
fill their other fields with the devkit's "not set" values, accepted on DontCare lines only:
-1 (truncated, occluded, each dimension), -10 (alpha, rotation_y) and -1000 (location, any
finite value already). An object of any other type must hold real values, since the devkit's
difficulty filters read its truncation and occlusion.
"""

from __future__ import annotations

import math

from evosynth.errors import DataError

#: Rounding slack of a printed angle: π to three decimals is 3.142.
ANGLE_SLACK = 5e-4
#: The "not set" values of KITTI's DontCare lines, per field.
UNSET = {"truncated": -1.0, "occluded": -1.0, "alpha": -10.0, "dimension": -1.0, "rotation_y": -10.0}


def _unset(dont_care: bool, field: str, value: float) -> bool:
    return dont_care and value == UNSET[field]


def check_fields(numbers: list[float], where: str, dont_care: bool,
                 image_size: tuple[int, int] | None = None) -> None:
    """Refuse, naming ``where`` (file and line), a number outside the devkit's range (module docstring).

    ``numbers`` are fields 2-15 of the line; ``image_size`` is the frame's (height, width), if known.
    """
    if not all(math.isfinite(v) for v in numbers):
        raise DataError(f"{where}: NaN or infinite value")
    truncated, occluded, alpha = numbers[:3]
    if not (0.0 <= truncated <= 1.0 or _unset(dont_care, "truncated", truncated)):
        raise DataError(f"{where}: truncated {truncated:g} outside [0, 1] (0 non-truncated .. 1 leaving the image)")
    if not (occluded in (0, 1, 2, 3) or _unset(dont_care, "occluded", occluded)):
        raise DataError(f"{where}: occluded must be an integer (0, 1, 2, 3), got {occluded:g}")
    for name, angle in (("alpha", alpha), ("rotation_y", numbers[13])):
        if not (abs(angle) <= math.pi + ANGLE_SLACK or _unset(dont_care, name, angle)):
            raise DataError(f"{where}: {name} {angle:g} outside [-π, π] (an angle in radians)")
    for name, size in zip(("height", "width", "length"), numbers[7:10]):
        if not (size >= 0.0 or _unset(dont_care, "dimension", size)):
            raise DataError(f"{where}: 3-D {name} {size:g} is negative (dimensions in metres, ≥ 0)")
    check_box(numbers[3:7], where, image_size)


def check_box(box: list[float], where: str, image_size: tuple[int, int] | None = None) -> None:
    """Refuse a box without area or outside the image (0-based pixel coordinates; module docstring)."""
    left, top, right, bottom = box
    shown = f"box (left {left:g}, top {top:g}, right {right:g}, bottom {bottom:g})"
    if right < left or bottom < top:
        raise DataError(f"{where}: {shown} has right < left or bottom < top")
    if right == left or bottom == top:
        raise DataError(f"{where}: {shown} has no area (right = left or bottom = top)")
    if left < 0 or top < 0:
        raise DataError(f"{where}: {shown} starts outside the image (negative coordinate; pixels count from 0)")
    if image_size is not None:
        height, width = image_size
        if right > width - 1 or bottom > height - 1:
            raise DataError(f"{where}: {shown} ends outside the {width}×{height} image (0-based pixel"
                            f" coordinates: right ≤ {width - 1}, bottom ≤ {height - 1})")
