"""The VGG16-based saliency network of EvoNet (§III, "Network architecture").

Stacks c1–c5 are VGG16's convolutional stacks (Simonyan and Zisserman 2015,
configuration D) with 2×2 max pooling between them. The outputs of c3, c4 and
c5 feed the new stacks c6, c7 and c8; c7 and c8 feed the deconvolution stacks
d1 and d2, which bring them to c6's resolution; the concatenated outputs of
c6, d1 and d2 feed c9. c5 also feeds c10 and c11 in turn. The outputs of c9
and c11 are combined and a softmax over two classes (background, salient)
gives the per-pixel saliency map.
"""

from __future__ import annotations

import torch
from torch import nn

#: (stack, conv layers, filters) of VGG16 (EvoNet §III: c1–c5).
VGG16_STACKS = (("c1", 2, 64), ("c2", 2, 128), ("c3", 3, 256), ("c4", 3, 512), ("c5", 3, 512))


def _width(count: int, width: float) -> int:
    return max(1, round(count * width))


def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


class VGG16Saliency(nn.Module):
    """EvoNet's saliency ancestor: c1–c11, d1, d2 and a 2-class softmax (EvoNet §III).

    Widths and receptive fields as the paper lists them: c1–c5 VGG16
    (64, 128, 256, 512, 512; 3×3), c6 256 3×3, c7 and c8 512 3×3, c9 384
    1×1, c10 512 11×11, c11 384 1×1. What the paper leaves open is fixed so:
    d1 and d2 are resize-convolutions (bilinear upsampling ×2 and ×4 to c3's
    resolution, then a 3×3 conv of 512 filters), so that every layer holding
    synapses is a Conv2d whose first weight dimension is its output units, as
    the encodings assume; c11's output is upsampled to c9's resolution and
    added to c9 ("combined": both have 384 channels, so the add couples them
    channel by channel); a 1×1 conv scores the two classes, upsampled to the
    input size. ``forward`` returns the 2-class logits (N, 2, H, W), trained
    with per-pixel cross-entropy; :meth:`saliency` is the softmax's salient
    class. ReLU follows every conv but the score. ``width`` scales every
    hidden width (1 is the paper).
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 2, image_size: int = 224, width: float = 1.0
    ) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        if image_size % 16 or image_size < 16:
            raise ValueError(f"the saliency network needs a multiple of 16 pixels, got {image_size}")

        def w(count: int) -> int:
            return _width(count, width)

        stacks, channels = {}, in_channels
        for name, layers, filters in VGG16_STACKS:
            convs = []
            for _ in range(layers):
                convs.append(nn.Conv2d(channels, w(filters), 3, padding=1))
                channels = w(filters)
            stacks[name] = nn.ModuleList(convs)
        self.vgg = nn.ModuleDict(stacks)
        self.c6 = nn.Conv2d(w(256), w(256), 3, padding=1)
        self.c7 = nn.Conv2d(w(512), w(512), 3, padding=1)
        self.c8 = nn.Conv2d(w(512), w(512), 3, padding=1)
        self.d1 = nn.Conv2d(w(512), w(512), 3, padding=1)
        self.d2 = nn.Conv2d(w(512), w(512), 3, padding=1)
        self.c9 = nn.Conv2d(w(256) + 2 * w(512), w(384), 1)
        self.c10 = nn.Conv2d(w(512), w(512), 11, padding=5)
        self.c11 = nn.Conv2d(w(512), w(384), 1)
        self.score = nn.Conv2d(w(384), num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        taps = {}
        for k, (name, convs) in enumerate(self.vgg.items()):
            if k > 0:
                x = nn.functional.max_pool2d(x, 2)
            for conv in convs:
                x = torch.relu(conv(x))
            taps[name] = x
        quarter = taps["c3"].shape[-2:]
        c6 = torch.relu(self.c6(taps["c3"]))
        c7 = torch.relu(self.c7(taps["c4"]))
        c8 = torch.relu(self.c8(taps["c5"]))
        d1 = torch.relu(self.d1(_upsample(c7, quarter)))
        d2 = torch.relu(self.d2(_upsample(c8, quarter)))
        c9 = torch.relu(self.c9(torch.cat([c6, d1, d2], dim=1)))
        c11 = torch.relu(self.c11(torch.relu(self.c10(taps["c5"]))))
        return _upsample(self.score(c9 + _upsample(c11, quarter)), size)

    def saliency(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel probability of the salient class (N, H, W): softmax over the two classes."""
        return torch.softmax(self(x), dim=1)[:, 1]
