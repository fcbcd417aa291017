"""Image files of the KITTI and saliency sets: decoded by Pillow, mapped to 8 bits by one stated rule.

Pillow reads the file; what its pixels become is decided here, so that no pixel format is
saturated, stretched or misread without a word (docs/reliability.md lists the rules per source).

Images (:func:`read_rgb`), as uint8 H×W×3:

=====================================  ======================================================
stored as                              read as
=====================================  ======================================================
8-bit RGB, grey, palette, bilevel      Pillow's RGB conversion: grey repeated in the three
                                       channels, palette colours looked up, alpha dropped
16-bit grey (PNG)                      the high byte of each value, ``v >> 8`` (65535 → 255,
                                       257·k → k); refused when every value is below 256, since
                                       8-bit values stored in 16 bits would all become black
16-bit colour (PNG)                    the high byte of each channel (Pillow's own reading)
32-bit integer grey                    as 16-bit grey when every value is 0..65535, else refused
floats, CMYK and other modes           refused
=====================================  ======================================================

Ground-truth masks (:func:`read_mask_level`), as a uint8 H×W *level* 0..255 that the saliency
reader resizes and binarises at 128 (half the scale):

* a pixel's raw value is its grey value, or for colour masks (RGB, palette) its brightest
  channel, so a red foreground on black is salient;
* a mask whose raw values are only 0 and 1 is a 0/1 mask: 1 → 255 (as
  :func:`evosynth.data.validation.as_uint8` reads 0/1 pixels);
* otherwise 8-bit values are the level and 16-bit values give ``v >> 8`` (salient from 32768);
* refused: a mask with any transparent pixel (is the salient region the opaque part or the
  bright part?), float or CMYK masks, and a mask with non-zero values none of which reaches
  half the scale (0/100, or 0/255 stored in 16 bits), which would otherwise become all
  background.

Every file is opened under Pillow's decompression-bomb guard: an image of more than
``PIL.Image.MAX_IMAGE_PIXELS`` pixels (89 million by default) is refused in one line before it is
decoded, where Pillow would only warn (and raise only above twice that).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evosynth.errors import DataError

if TYPE_CHECKING:
    from PIL import Image

#: Pillow modes of 16-bit (and 32-bit integer) single-channel images.
WIDE_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")
#: Pillow modes converted to RGB as they are (alpha dropped for images, checked for masks).
EIGHT_BIT = ("1", "L", "P", "RGB", "RGBA", "LA", "PA", "RGBa", "La", "RGBX")
ACCEPTED = "accepted: 8-bit RGB, grey, palette or bilevel files and 16-bit PNGs"


def decode(path: str | Path) -> Image.Image:
    """``path`` opened and decoded by Pillow; a DataError names it if it is unreadable or too large."""
    from PIL import Image

    path = Path(path)
    image = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, ValueError, SyntaxError,
                EOFError) as exc:  # UnidentifiedImageError is an OSError
            if image is not None:
                image.close()
            if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
                raise DataError(f"{path}: refused as a possible decompression bomb ({exc})") from None
            raise DataError(f"{path}: not a readable image ({exc})") from None
    return image


def _wide_values(image: Image.Image, path: Path) -> np.ndarray:
    """A 16-bit (or 32-bit integer) grey image's values as int64, refused outside 0..65535."""
    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise DataError(f"{path}: {image.mode} values {values.min()}..{values.max()} outside 0..65535;"
                        f" {ACCEPTED}")
    return values


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as uint8 H×W×3 by the rules of the module docstring."""
    path = Path(path)
    with decode(path) as image:
        if image.mode in EIGHT_BIT:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
        if image.mode not in WIDE_GREY:
            raise DataError(f"{path}: {image.mode} pixels (Pillow's mode) are not read; {ACCEPTED}")
        values = _wide_values(image, path)
    if values.size and values.max() < 256:
        raise DataError(f"{path}: 16-bit image whose values all lie in 0..{values.max()}: its high bytes"
                        f" (v >> 8, the 16-bit rule) would make it black; save it as 8-bit")
    return np.repeat((values >> 8).astype(np.uint8)[..., None], 3, axis=-1)


def _opaque(image: Image.Image, path: Path) -> Image.Image:
    """``image`` without its alpha channel, refused if any pixel is not fully opaque."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.size and alpha.min() < 255:
            raise DataError(f"{path}: mask with transparent pixels ({alpha.min()} is its lowest alpha):"
                            " ambiguous whether the opaque or the bright part is salient; save it without"
                            " alpha (grey 0/255)")
        return image.convert("L" if image.mode in ("LA", "La") else "RGB")
    return image


def read_mask_level(path: str | Path) -> np.ndarray:
    """A mask file as a uint8 H×W level 0..255, salient from 128 (rules in the module docstring)."""
    path = Path(path)
    with decode(path) as image:
        mode = image.mode
        if mode in WIDE_GREY:
            raw, full = _wide_values(image, path), 65535
        elif mode in EIGHT_BIT:
            image = _opaque(image, path)
            if image.mode in ("1", "L"):
                raw = np.asarray(image, dtype=np.uint8)  # bilevel: 0/1
            else:
                raw = np.asarray(image.convert("RGB")).max(axis=-1)
            full = 255
        else:
            raise DataError(f"{path}: mask in Pillow mode {mode} is not read; accepted: masks 0/1 or"
                            " 0/255 as grey, palette, colour (brightest channel) or bilevel, or 16-bit grey")
    top = int(raw.max()) if raw.size else 0
    if top <= 1:
        return (raw * 255).astype(np.uint8)  # a 0/1 mask
    level = (raw >> 8 if full == 65535 else raw).astype(np.uint8)
    if level.max() < 128:
        half = (full + 1) // 2
        raise DataError(f"{path}: mask values 0..{top} ({mode}), none reaching half the scale ({half} of"
                        f" {full}): every pixel would be background; accepted: 0/1 or 0/{full} masks")
    return level


def resized(pixels: np.ndarray, size: int) -> np.ndarray:
    """A uint8 H×W or H×W×3 array resized (bilinear, Pillow) to size×size."""
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))
