"""What the generator reads: a latent distribution draws G's input z and, for InfoGAN, the
structured codes that Q must recover from G(z). One option per file, chosen by `latent=...`
(conf/latent/); G's input size is the latent's `input_dim`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ganlab import checks
from ganlab.config_checks import ConfigError

MAX_RESAMPLING_ROUNDS = 10_000  # truncation: rounds of redrawing before giving up (t far too small)


@dataclass
class Codes:
    """InfoGAN's structured codes of a batch (they are also inside z)."""

    categorical: Tensor  # (n, k) int64: the category drawn for each of the k categorical codes
    continuous: Tensor  # (n, m) float: the value of each of the m continuous codes


@dataclass
class LatentSample:
    z: Tensor  # (n, input_dim): G's input
    codes: Codes | None = None  # the codes inside z (InfoGAN); None for plain noise


class Latent:
    """A latent distribution. `sample(n)` draws n inputs for G; `input_dim` is their size.

    `generator`: draw from this torch.Generator (reproducible noise, e.g. fixed sample grids) on
    its device, then move to `device`; None draws from torch's default generator on `device`.
    `truncation`: the truncation trick (Brock et al. 2019, BigGAN): every noise value with
    |z_i| > truncation is redrawn until none is left (a distribution truncated to [-t, t]);
    None or 0 < t: off / on. Codes are never truncated."""

    input_dim: int
    code_names: tuple[str, ...] = ()  # the structured codes inside z (InfoGAN), in order; none by default

    def sample(self, n: int, device: torch.device | str | None = None, generator: torch.Generator | None = None,
               truncation: float | None = None) -> LatentSample:
        raise NotImplementedError

    def traversal(self, code: int, columns: int, steps: int = 7, span: float = 2.0,
                  generator: torch.Generator | None = None, device=None, truncation=None) -> LatentSample:
        """Inputs that vary code number `code` down the rows and hold the noise fixed along each
        column (see InfoGANLatent); a latent without codes has none to vary."""
        raise ValueError(f"{type(self).__name__} has no codes to traverse")


def check_truncation(truncation: float | None, key: str = "truncation") -> float | None:
    """`truncation` if it is None or a positive number; a ConfigError naming `key` otherwise."""
    if truncation is None:
        return None
    if not (checks.is_int(truncation) or isinstance(truncation, float)) or not truncation > 0:
        raise checks.BadValue(key, "a positive number (e.g. 0.5: redraw every |z_i| > 0.5) or null (off)", truncation)
    return float(truncation)


def draw_noise(draw: Callable[[int, torch.Generator | None, torch.device | str | None], Tensor], n: int, dim: int,
               device: torch.device | str | None, generator: torch.Generator | None,
               truncation: float | None) -> Tensor:
    """(n, dim) values of `draw(count, generator, where) -> (count,)`, on `device`. With a
    `truncation` t, every value with |z_i| > t is redrawn (only those), round after round, until
    none is left. Drawn on the generator's device when one is given."""
    truncation = check_truncation(truncation)
    where = generator.device if generator is not None else device
    z = draw(n * dim, generator, where)  # (n * dim,)
    if truncation is not None:
        for _ in range(MAX_RESAMPLING_ROUNDS):
            outside = z.abs() > truncation
            count = int(outside.sum())
            if count == 0:
                break
            z[outside] = draw(count, generator, where)
        else:
            raise ConfigError(f"truncation={truncation}: values inside [-{truncation}, {truncation}] are too rare for "
                              f"this latent after {MAX_RESAMPLING_ROUNDS} rounds of redrawing; choose a larger "
                              "truncation")
    return z.view(n, dim).to(device) if device is not None else z.view(n, dim)
