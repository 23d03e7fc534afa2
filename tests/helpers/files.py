"""Small files tests write: image folders (some of them corrupt)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, n: int, corrupt: int = 0) -> list[Path]:
    """n 28x28 grey PNGs in `folder`, the last `corrupt` of them truncated to garbage."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(path)
        if i >= n - corrupt:
            path.write_bytes(path.read_bytes()[:20])  # a truncated download
        paths.append(path)
    return paths
