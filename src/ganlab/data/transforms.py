"""Image decoding and normalisation shared by the DataModules.

Every DataModule hands out images in [-1, 1] as `uint8 / 127.5 - 1`. In-memory datasets keep uint8
tensors and normalise a whole batch at once; file datasets decode one image at a time with PIL.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
PIL_MODES = {1: "L", 3: "RGB"}  # channels -> PIL mode


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 in [0, 255] -> float32 in [-1, 1] (any shape)."""
    return images.float().div_(127.5).sub_(1.0)


def resize_uint8(images: Tensor, size: tuple[int, int], chunk: int = 4096) -> Tensor:
    """uint8 (n, c, h, w) -> uint8 (n, c, *size): bilinear, antialiased when shrinking, rounded."""
    out = torch.empty((images.shape[0], images.shape[1], *size), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):  # bounded float32 memory for large sets
        x = F.interpolate(images[start:start + chunk].float(), size=tuple(size), mode="bilinear",
                          align_corners=False, antialias=True)
        out[start:start + chunk] = x.round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Converts any PIL image (grayscale, 16-bit, RGBA, palette, CMYK ...) to L or RGB."""
    mode = PIL_MODES[channels]
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale: scale, do not clip
        array = np.asarray(image, dtype=np.float32) / 257.0  # 0..65535 -> 0..255
        image = Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "L")
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # the documented route for palette images with transparency
    return image if image.mode == mode else image.convert(mode)


def center_crop_resize(image: Image.Image, size: int, crop: int | None = None) -> Image.Image:
    """The centred square of side `crop` (default: the shorter side; never more than it), resized
    to size x size with PIL's antialiased bilinear filter. With `crop=None` this is resizing the
    shorter side to `size` and then centre-cropping."""
    width, height = image.size
    side = min(width, height) if crop is None else min(crop, width, height)
    left, top = round((width - side) / 2), round((height - side) / 2)
    if side != width or side != height:
        image = image.crop((left, top, left + side, top + side))
    return image if side == size else image.resize((size, size), Image.Resampling.BILINEAR)


def pil_to_uint8(image: Image.Image) -> Tensor:
    """An L or RGB PIL image -> uint8 tensor (c, h, w)."""
    array = np.array(image, dtype=np.uint8)  # (h, w) or (h, w, c); a writable copy
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def load_image(path: str, channels: int, size: int, crop: int | None = None) -> Tensor:
    """Decodes one image file -> uint8 (channels, size, size): centre crop (`crop`, or the shorter
    side) then resize. Raises whatever PIL raises for an unreadable or truncated file."""
    with Image.open(path) as image:
        if crop is None:
            image.draft(PIL_MODES[channels], (size, size))  # JPEG: decode at reduced scale, >= size
        image = to_mode(image, channels)
        return pil_to_uint8(center_crop_resize(image, size, crop))
