"""InfoGAN's latent (Chen et al. 2016): incompressible noise z plus structured codes c that G must
make recoverable from its images (a Q head on D's features predicts them; see
networks/infogan.py and losses/mutual_information.py).

G's input is [noise | one-hot of each categorical code | continuous codes], of size
noise.input_dim + sum(categorical) + continuous. Categorical codes are uniform over their K
categories; continuous codes are U(-1, 1), as in the paper's MNIST experiment (one 10-way
categorical and two continuous codes beside 62 noise variables)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.latents.base import Codes, Latent, LatentSample


class InfoGANLatent(Latent):
    def __init__(
        self,
        noise: Latent,  # the incompressible noise z (any latent without codes)
        categorical: Sequence[int] = (10,),  # number of categories of each categorical code
        continuous: int = 2,  # number of continuous codes, each U(-1, 1)
    ):
        categorical = list(categorical)
        if not all(checks.is_int(k) and k >= 2 for k in categorical):
            raise checks.BadValue("categorical", "a list of category counts >= 2", categorical)
        checks.count(continuous, "continuous")
        if not categorical and continuous == 0:
            raise ConfigError("InfoGAN needs at least one code: set categorical (e.g. [10]) or continuous (e.g. 2); "
                              "without codes use latent=gaussian or latent=uniform")
        self.noise = noise
        self.categorical = categorical
        self.continuous = continuous
        self.input_dim = noise.input_dim + sum(categorical) + continuous

    @property
    def code_names(self) -> tuple[str, ...]:
        """One name per code, in order: categorical_0, ..., continuous_0, ..."""
        return (*(f"categorical_{i}" for i in range(len(self.categorical))),
                *(f"continuous_{j}" for j in range(self.continuous)))

    def sample(self, n: int, device=None, generator=None, truncation=None) -> LatentSample:
        noise = self.noise.sample(n, device, generator, truncation).z  # (n, noise_dim)
        where = generator.device if generator is not None else device
        categorical = torch.zeros(n, len(self.categorical), dtype=torch.long, device=where)  # (n, k)
        for i, k in enumerate(self.categorical):
            categorical[:, i] = torch.randint(k, (n,), generator=generator, device=where)
        continuous = torch.rand(n, self.continuous, generator=generator, device=where) * 2 - 1  # (n, m)
        codes = Codes(categorical.to(noise.device), continuous.to(noise.device))
        return LatentSample(self.compose(noise, codes), codes)

    def compose(self, noise: Tensor, codes: Codes) -> Tensor:
        """G's input (n, input_dim) from noise (n, noise_dim) and codes."""
        one_hot = [F.one_hot(codes.categorical[:, i], k).to(noise.dtype) for i, k in enumerate(self.categorical)]
        return torch.cat([noise, *one_hot, codes.continuous.to(noise.dtype)], dim=1)

    def traversal(self, code: int, columns: int, steps: int = 7, span: float = 2.0,
                  generator: torch.Generator | None = None, device=None, truncation=None) -> LatentSample:
        """Inputs for a traversal grid of code number `code` (in the order of `code_names`):
        rows are the code's values (each category of a categorical code; `steps` values evenly from
        -span to span for a continuous one: the paper's Figure 2 goes from -2 to 2, beyond the
        U(-1, 1) of training), columns hold the noise and the other codes fixed. Row-major
        (rows * columns, input_dim)."""
        if not 0 <= code < len(self.code_names):
            raise ValueError(f"code {code} out of range: this latent has {len(self.code_names)} codes")
        base = self.sample(columns, device, generator, truncation)  # one column each
        noise = base.z[:, :self.noise.input_dim]
        if code < len(self.categorical):
            values = torch.arange(self.categorical[code], device=noise.device)  # (rows,)
        else:
            values = torch.linspace(-span, span, steps, device=noise.device)
        rows = len(values)
        categorical = base.codes.categorical.repeat(rows, 1)  # (rows * columns, k)
        continuous = base.codes.continuous.repeat(rows, 1)  # (rows * columns, m)
        varied = values.repeat_interleave(columns)  # row r: value r
        if code < len(self.categorical):
            categorical[:, code] = varied
        else:
            continuous[:, code - len(self.categorical)] = varied
        codes = Codes(categorical, continuous)
        return LatentSample(self.compose(noise.repeat(rows, 1), codes), codes)
