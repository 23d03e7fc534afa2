"""InfoGAN's recognition network Q (Chen et al. 2016): a head on the discriminator's features that
predicts the latent codes G was given, sharing all of D's body (the paper, sec. 5: Q and D share
all convolutional layers, and Q adds a final fully connected layer for the parameters of
Q(c | x)). `InfoGANDiscriminator` wraps any discriminator whose DOut carries
`features` (every family here: MLP, DCGAN, ResNet, the autoencoders) and adds `DOut.codes`.

Q's layers, as in the paper's MNIST network (appendix C): FC `hidden` - BatchNorm - LeakyReLU -
FC to the parameters of Q(c | x): each categorical code's logits, then each continuous code's mean
and (with `learn_std`) log standard deviation, a factored Gaussian. Q's parameters are part of the
discriminator, so D's optimiser trains them, as in the authors' released code.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ganlab.networks.output import CODES, FEATURES, PER_SAMPLE, CodePosterior, Discriminator, DOut


class QHead(nn.Module):
    def __init__(
        self,
        in_features: int,  # size of D's features (DOut.features)
        categorical: Sequence[int] = (10,),  # categories of each categorical code
        continuous: int = 2,  # number of continuous codes
        hidden: int = 128,  # width of Q's hidden layer (the paper's MNIST Q: 128)
        learn_std: bool = True,  # predict each continuous code's std (factored Gaussian); false: std 1
    ):
        super().__init__()
        self.categorical = list(categorical)
        self.continuous = continuous
        self.learn_std = learn_std
        outputs = sum(self.categorical) + continuous * (2 if learn_std else 1)
        self.net = nn.Sequential(nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, outputs))

    def forward(self, features: Tensor) -> CodePosterior:
        params = self.net(features.flatten(1))  # (n, sum(K) + m or 2m)
        logits = list(params[:, :sum(self.categorical)].split(self.categorical, dim=1)) if self.categorical else []
        rest = params[:, sum(self.categorical):]
        mean = rest[:, :self.continuous]  # (n, m)
        log_std = rest[:, self.continuous:] if self.learn_std else None  # (n, m)
        return CodePosterior(logits, mean, log_std)


@torch.no_grad()
def feature_size(discriminator: nn.Module, image_shape: tuple[int, ...]) -> int:
    """The size of D's `DOut.features`, from one forward pass of two blank images in eval mode
    (BatchNorm statistics and spectral-norm vectors are left as they were)."""
    was_training = discriminator.training
    discriminator.eval()
    try:
        x = torch.zeros(2, *image_shape, device=next(discriminator.parameters()).device)
        y = torch.zeros(2, dtype=torch.long, device=x.device) if getattr(discriminator, "conditional", False) else None
        features = discriminator(x, y).features
    finally:
        discriminator.train(was_training)
    if features is None:
        raise ValueError("InfoGAN's Q head reads the discriminator's features (DOut.features), and this "
                         "discriminator returns none")
    return features.flatten(1).shape[1]


class InfoGANDiscriminator(Discriminator):
    """Any discriminator plus InfoGAN's Q head on its features: D(x, y) -> DOut with `codes` set to
    Q(c | x). Everything else of the wrapped D's output passes through unchanged."""

    needs = frozenset({FEATURES, PER_SAMPLE})  # what the Q head reads from the wrapped D: a code per sample

    def __init__(
        self,
        discriminator: nn.Module,  # D(x, y=None) -> DOut with features
        q_head: Callable[[int], nn.Module],  # D's feature size -> Q head (a partial QHead)
        image_shape: tuple[int, ...],  # to find D's feature size
    ):
        super().__init__()
        self.discriminator = discriminator
        self.q_head = q_head(feature_size(discriminator, tuple(image_shape)))
        self.conditional = getattr(discriminator, "conditional", False)
        self.provides = frozenset(getattr(discriminator, "provides", frozenset())) | {CODES}

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        out = self.discriminator(x, y)
        return dataclasses.replace(out, codes=self.q_head(out.features))
