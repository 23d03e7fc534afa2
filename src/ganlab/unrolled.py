"""Unrolled GAN (Metz et al. 2017): G's loss is computed against a copy of D moved k steps ahead by
D's own update rule, with the look-ahead steps kept differentiable, so G's gradient includes how D
would react to G's samples (the term that discourages G from hopping between modes). D's real update
is unchanged: the look-ahead never touches D's parameters, buffers or optimiser state.

The look-ahead steps are Adam steps (the benchmarks' D optimiser) with D optimiser's lr, betas and
eps, continuing from its current moment estimates (zero before its first step), as the paper's
implementation unrolls its own optimiser. Each step uses the iteration's real batch and G's fake
batch (with its graph to G: the second-order term). Only the adversarial objective is unrolled;
regularisers and constraints act on D's real update alone.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.networks.output import DOut

Params = dict[str, Tensor]


def adam_settings(optimizer: torch.optim.Optimizer) -> tuple[float, tuple[float, float], float]:
    """(lr, betas, eps) of D's optimiser: the rule the look-ahead follows."""
    group = optimizer.param_groups[0]
    if "betas" not in group:
        raise ConfigError(f"the unrolled GAN's look-ahead takes Adam steps, but D's optimiser is "
                          f"{type(optimizer).__name__}: use optim=adam")
    return float(group["lr"]), tuple(group["betas"]), float(group.get("eps", 1e-8))


def lookahead(discriminator: nn.Module, optimizer: torch.optim.Optimizer, steps: int,
              d_loss: Callable[[Callable[[Tensor], DOut]], Tensor]) -> Callable[[Tensor], DOut]:
    """D moved `steps` differentiable Adam steps ahead on `d_loss`, as a function x -> DOut.

    `d_loss(D)` computes D's loss with the discriminator function it is given. The look-ahead
    starts from detached copies of D's parameters (so it works while D is frozen for G's step),
    runs on copies of D's buffers (BatchNorm statistics, spectral-norm vectors) and reads, never
    writes, `optimizer`'s state: the real D and its optimiser are left untouched. The Adam
    denominator is sqrt(v + eps^2) + eps, which equals Adam's sqrt(v) + eps up to eps^2 and keeps the
    second derivative finite where a gradient is exactly zero (a maxout piece that never wins)."""
    checks.count(steps, "steps")
    lr, (beta1, beta2), eps = adam_settings(optimizer)
    real_params = dict(discriminator.named_parameters())
    buffers: Params = {name: b.clone() for name, b in discriminator.named_buffers()}
    names = list(real_params)
    state = {name: optimizer.state.get(real_params[name], {}) for name in names}
    exp_avg = {n: state[n].get("exp_avg", torch.zeros_like(real_params[n])).detach() for n in names}
    exp_avg_sq = {n: state[n].get("exp_avg_sq", torch.zeros_like(real_params[n])).detach() for n in names}
    count = {n: int(state[n].get("step", 0)) for n in names}

    def at(current: Params) -> Callable[..., DOut]:
        return lambda x, y=None: functional_call(discriminator, {**current, **buffers}, (x, y))

    current: Params = {n: p.detach().requires_grad_(True) for n, p in real_params.items()}
    for _ in range(steps):
        loss = d_loss(at(current))
        grads = torch.autograd.grad(loss, [current[n] for n in names], create_graph=True, allow_unused=True)
        for name, grad in zip(names, grads):
            if grad is None:  # a parameter this loss does not reach
                continue
            exp_avg[name] = beta1 * exp_avg[name] + (1 - beta1) * grad
            exp_avg_sq[name] = beta2 * exp_avg_sq[name] + (1 - beta2) * grad * grad
            count[name] += 1
            m_hat = exp_avg[name] / (1 - beta1 ** count[name])
            v_hat = exp_avg_sq[name] / (1 - beta2 ** count[name])
            current[name] = current[name] - lr * m_hat / ((v_hat + eps * eps).sqrt() + eps)
    return at(current)
