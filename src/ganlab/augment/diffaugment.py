"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): the same random, differentiable transformations applied to real *and* generated images
before every discriminator call, so D cannot overfit a small dataset and G still gets gradients
through the augmentation.

Policies, as in the paper's reference code (DiffAugment_pytorch.py):
  color:        random brightness (+[-0.5, 0.5)), saturation (x[0, 2)) and contrast (x[0.5, 1.5))
  translation:  a random shift of up to 1/8 of the image size in each direction, zero-padded
  cutout:       a random square of half the image size set to zero (may be clipped at the border)
Every sample draws its own parameters. Images are (n, c, h, w) in [-1, 1]; 0 is mid-grey.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganlab import checks
from ganlab.step import StepPart

Augmentation = Callable[[Tensor], Tensor]


def _per_sample(x: Tensor) -> Tensor:
    """One uniform [0, 1) number per sample, shaped to broadcast over (c, h, w)."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)  # (n, 1, 1, 1)


def brightness(x: Tensor) -> Tensor:
    """Adds a per-sample offset in [-0.5, 0.5)."""
    return x + (_per_sample(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scales each pixel's distance to its channel mean by a per-sample factor in [0, 2)."""
    mean = x.mean(dim=1, keepdim=True)  # (n, 1, h, w)
    return (x - mean) * (_per_sample(x) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scales each image's distance to its mean by a per-sample factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (n, 1, 1, 1)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shifts each image by a per-sample integer offset in [-ratio * size, ratio * size] along each
    axis; pixels shifted in from outside are zero. Implemented as a gather, so gradients flow."""
    n, _, height, width = x.shape
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(height, device=x.device)[None, :, None]  # (1, h, 1)
    cols = torch.arange(width, device=x.device)[None, None, :]  # (1, 1, w)
    # Index into the image padded by one zero pixel: out-of-range reads land on the padding.
    src_rows = torch.clamp(rows + dy + 1, 0, height + 1).expand(n, height, width)  # (n, h, w)
    src_cols = torch.clamp(cols + dx + 1, 0, width + 1).expand(n, height, width)
    padded = F.pad(x, [1, 1, 1, 1])  # (n, c, h + 2, w + 2)
    batch = torch.arange(n, device=x.device)[:, None, None].expand(n, height, width)
    return padded.permute(0, 2, 3, 1)[batch, src_rows, src_cols].permute(0, 3, 1, 2)  # (n, c, h, w)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zeroes a per-sample randomly placed square of ratio * size on a side (clipped at the border)."""
    n, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = torch.randint(0, height + (1 - size_y % 2), (n, 1, 1), device=x.device)
    centre_x = torch.randint(0, width + (1 - size_x % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(height, device=x.device)[None, :, None]  # (1, h, 1)
    cols = torch.arange(width, device=x.device)[None, None, :]  # (1, 1, w)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2  # (n, 1, 1)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)  # (n, h, w)
    return x * (~inside).to(x.dtype)[:, None]


# Policy name -> the augmentations it applies, in order. Register a new policy here.
POLICIES: dict[str, tuple[Augmentation, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str | Sequence[str]) -> list[str]:
    """'color,translation' or ['color', 'translation'] -> ['color', 'translation']."""
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    return [str(name).strip() for name in names if str(name).strip()]


class DiffAugment(nn.Module, StepPart):
    """x (n, c, h, w) -> the same images, each randomly augmented by every policy in turn.

    Differentiable with respect to x; the random draws use the global torch generator on x's device
    (so seeding and checkpoint resumption cover them). An empty policy is the identity.
    """

    def __init__(
        self,
        policy: str | Sequence[str] = "color,translation,cutout",  # names from POLICIES, applied in order
    ):
        super().__init__()
        self.policy = parse_policy(policy)
        unknown = [name for name in self.policy if name not in POLICIES]
        if unknown:
            raise checks.BadValue("policy", f"a list of DiffAugment operations from {', '.join(sorted(POLICIES))} "
                                            f"(unknown: {', '.join(map(repr, unknown))})", policy)
        self.augmentations = [f for name in self.policy for f in POLICIES[name]]

    def forward(self, x: Tensor) -> Tensor:
        for augment in self.augmentations:
            x = augment(x)
        return x

    def discriminator_input(self, x: Tensor, iteration: int) -> Tensor:
        return self(x)

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)}"
