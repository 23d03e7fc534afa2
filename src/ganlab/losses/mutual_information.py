"""InfoGAN's mutual-information term (Chen et al. 2016, eq. 4-5): a variational lower bound
L_I(G, Q) = E[log Q(c | G(z, c))] + H(c) <= I(c; G(z, c)), maximised by G and Q (so both minimise
-lambda * L_I; H(c) is a constant of the prior).

Per categorical code: cross-entropy of Q's logits against the category G was given.
Per continuous code: the negative log-likelihood of the value under Q's Gaussian, a factored
Gaussian N(mean, std^2) (std = 1 when Q does not predict it):
    0.5 * ((c - mean) / std)^2 + log std + 0.5 * log(2 pi).
Weights: categorical_weight 1 (the paper's lambda for discrete codes) and continuous_weight 0.1
(the paper takes a smaller lambda for continuous codes, so that the differential-entropy term
stays on the scale of the GAN objective, naming no single value; 0.1 is the usual choice). The
authors' MNIST code fixed the std at 1 and weighted both kinds 1:
`infogan.q_head.learn_std=false infogan.loss.continuous_weight=1`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab import checks
from ganlab.latents.base import Codes
from ganlab.names import D_INFO, G_INFO, INFOGAN_CATEGORICAL, INFOGAN_CONTINUOUS
from ganlab.networks.output import CODES, PER_SAMPLE, CodePosterior
from ganlab.step import DiscriminatorStep, GeneratorStep, StepPart, Terms

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def categorical_cross_entropy(posterior: CodePosterior, codes: Codes) -> Tensor:
    """Sum over the categorical codes of the batch-mean cross-entropy of Q's logits."""
    terms = [F.cross_entropy(logits.float(), codes.categorical[:, i])
             for i, logits in enumerate(posterior.categorical_logits)]
    return torch.stack(terms).sum() if terms else posterior.mean.new_zeros(())


def gaussian_nll(posterior: CodePosterior, codes: Codes) -> Tensor:
    """Sum over the continuous codes of the batch-mean Gaussian negative log-likelihood."""
    if codes.continuous.shape[1] == 0:
        return posterior.mean.new_zeros(())
    mean = posterior.mean.float()
    log_std = posterior.log_std.float() if posterior.log_std is not None else torch.zeros_like(mean)
    nll = 0.5 * ((codes.continuous.float() - mean) * torch.exp(-log_std)).pow(2) + log_std + HALF_LOG_2PI  # (n, m)
    return nll.sum(dim=1).mean()


class MutualInformationLoss(StepPart):
    """-lambda * L_I on the fakes of each step and the codes they were drawn with, added to D's loss
    (`loss/d_info`: it trains Q and D's shared body) and to G's loss (`loss/g_info`), as in the
    authors' code. Reads DOut.codes (latent=infogan's Q head) and the step's `codes`."""

    needs = frozenset({CODES, PER_SAMPLE})  # the codes each sample was drawn with

    def __init__(self, categorical_weight: float = 1.0, continuous_weight: float = 0.1):
        self.categorical_weight = checks.non_negative(categorical_weight, "categorical_weight")
        self.continuous_weight = checks.non_negative(continuous_weight, "continuous_weight")

    def breakdown(self, posterior: CodePosterior | None, codes: Codes) -> dict[str, Tensor]:
        """{'infogan/categorical': the cross-entropy, 'infogan/continuous': the Gaussian NLL, 'info':
        the weighted sum, the term}."""
        if posterior is None:
            raise ValueError("the mutual-information term needs Q's output (DOut.codes): latent=infogan wraps the "
                             "discriminator with a Q head")
        if len(posterior.categorical_logits) != codes.categorical.shape[1] or (
                posterior.mean.shape[1] != codes.continuous.shape[1]):
            raise ValueError("Q's head predicts other codes than the latent draws: infogan.q_head must follow "
                             "latent.categorical and latent.continuous")
        if posterior.mean.shape[0] != codes.continuous.shape[0]:
            raise ValueError(f"Q predicted codes for {posterior.mean.shape[0]} samples, but "
                             f"{codes.continuous.shape[0]} were drawn (a packed discriminator scores groups of "
                             "samples: InfoGAN needs one prediction per sample)")
        categorical = categorical_cross_entropy(posterior, codes)
        continuous = gaussian_nll(posterior, codes)
        total = self.categorical_weight * categorical + self.continuous_weight * continuous
        return {INFOGAN_CATEGORICAL: categorical, INFOGAN_CONTINUOUS: continuous, "info": total}

    def __call__(self, posterior: CodePosterior | None, codes: Codes | None) -> Tensor:
        if codes is None:
            raise ValueError("the mutual-information term needs the latent codes of the fakes: use latent=infogan")
        return self.breakdown(posterior, codes)["info"]

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return {D_INFO: self(step.d_fake.codes, step.codes)}

    def discriminator_step_done(self, step: DiscriminatorStep) -> Terms:
        """Reported, not added: the unweighted parts on this D step's fakes (no extra forward pass)."""
        with torch.no_grad():
            parts = self.breakdown(step.d_fake.codes, step.codes)
        return {INFOGAN_CATEGORICAL: parts[INFOGAN_CATEGORICAL], INFOGAN_CONTINUOUS: parts[INFOGAN_CONTINUOUS]}

    def generator_terms(self, step: GeneratorStep) -> Terms:
        return {G_INFO: self(step.d_fake.codes, step.codes)}
