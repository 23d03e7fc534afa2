"""Latent distributions, one per file, chosen by `latent=...` (conf/latent/): what G reads."""
from ganlab.latents.base import Codes, Latent, LatentSample, check_truncation
from ganlab.latents.gaussian import GaussianLatent
from ganlab.latents.infogan import InfoGANLatent
from ganlab.latents.uniform import UniformLatent

__all__ = ["Codes", "GaussianLatent", "InfoGANLatent", "Latent", "LatentSample", "UniformLatent",
           "check_truncation"]
