"""GANModule's step, seen through its public seams (step parts, callbacks, optimiser states): each
player's step updates only that player; one Lightning batch is one generator iteration; budgets
count generator iterations."""
import pytest
import torch
from torch import nn

from ganlab.step import StepPart


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> list[bool]:
    return [torch.equal(x, y) for x, y in zip(a, b)]


class StepProbe(StepPart):
    """A step part that records, after each D step and at the G step, what the players hold."""

    def __init__(self):
        self.events = []
        self.module = None  # set after the module is built

    def discriminator_step_done(self, step):
        g, d = self.module.generator, self.module.discriminator
        self.events.append(("d", snapshot(g), snapshot(d), [p.grad for p in g.parameters()]))
        return {}

    def generator_terms(self, step):
        d = step.discriminator
        self.events.append(("g", snapshot(self.module.generator), snapshot(d), [p.requires_grad for p in d.parameters()]))
        return {}


@pytest.mark.parametrize("k", [1, 3])
def test_each_players_step_updates_only_that_player(toy_module, fit, k):
    probe = StepProbe()
    module = toy_module(parts={"probe": probe}, d_steps_per_g_step=k, iterations=1)
    probe.module = module
    g0, d0 = snapshot(module.generator), snapshot(module.discriminator)
    fit(module)
    kinds = [event[0] for event in probe.events]
    assert kinds == ["d"] * k + ["g"]
    previous_d = d0
    for _, g, d, g_grads in probe.events[:k]:
        assert all(same(g0, g))  # D's steps leave G alone ...
        assert all(grad is None for grad in g_grads)  # ... and leave it no gradients
        assert not any(same(previous_d, d))  # every D step moves every D weight
        previous_d = d
    _, g_at_g_step, d_at_g_step, d_trainable = probe.events[k]
    assert all(same(previous_d, d_at_g_step)) and all(same(g0, g_at_g_step))
    assert not any(d_trainable)  # D is frozen for G's backward ...
    assert all(p.requires_grad for p in module.discriminator.parameters())  # ... and trainable again after
    assert all(same(previous_d, snapshot(module.discriminator)))  # G's step leaves D alone
    assert not any(same(g0, snapshot(module.generator)))  # and moves G
    assert all(p.grad is None for p in module.parameters())



@pytest.mark.parametrize("d_steps", [1, 3, 5])
def test_one_batch_is_one_generator_iteration(toy_module, fit, d_steps):
    module = toy_module(d_steps_per_g_step=d_steps, iterations=7)
    trainer = fit(module)  # 8 batches of 8 per epoch: the budget spans several epochs
    g_opt, d_opt = module.optimizers(use_pl_optimizer=False)
    assert module.g_iter == 7 and {int(s["step"]) for s in g_opt.state.values()} == {7}
    assert module.d_iter == 7 * d_steps and {int(s["step"]) for s in d_opt.state.values()} == {7 * d_steps}
    assert trainer.fit_loop.epoch_loop.batch_progress.total.completed == 7  # Lightning's batch counter
    # Lightning's global_step counts both players' optimiser steps: not the budget's unit
    assert trainer.global_step == 7 * d_steps + 7


def test_a_batch_must_hold_k_real_batches(toy_module, toy_data, fit):
    module = toy_module(d_steps_per_g_step=3, iterations=2)
    with pytest.raises(ValueError, match="holds 1 real batches, but loss.d_steps_per_g_step=3.*batches_per_iteration=3"):
        fit(module, toy_data(batches_per_iteration=1))


@pytest.mark.parametrize("bad", [dict(d_steps_per_g_step=0), dict(iterations=0), dict(log_every_n=0)])
def test_rejects_non_positive_counts(toy_module, bad):
    with pytest.raises(ValueError, match=next(iter(bad)).split("_per")[0]):
        toy_module(**bad)


def test_the_generator_must_meet_the_generator_contract(toy_module):
    from ganlab.losses import NonSaturatingLoss
    from ganlab.module import GANModule

    with pytest.raises(TypeError, match="ganlab.networks.Generator"):
        GANModule(nn.Linear(4, 16), nn.Linear(16, 1), NonSaturatingLoss(), torch.optim.Adam, torch.optim.Adam)


def test_the_parts_keep_the_checkpoint_keys(compose_train):
    """Checkpoints stay loadable: with every kind of shipped part in the step, the state_dict holds the
    networks, the EMA and the objective's buffers (BEGAN's k_t, here inside the unrolled loss) only,
    under the keys they had before the parts became one list."""
    from ganlab.build import build_module

    cfg = compose_train("model=mlp", "loss=began", "regularizer=[r1,r2]", "augment=diffaugment",
                        "instance_noise=default", "ema=default", "unrolled=default", "conditioning=acgan",
                        "model.generator.hidden=[16]", "model.discriminator.hidden=[16]")
    module = build_module(cfg, (1, 8, 8), 10)
    keys = module.state_dict()
    assert {key.split(".")[0] for key in keys} == {"generator", "discriminator", "loss", "generator_ema"}
    assert "loss.objective.k" in keys
    assert list(module.parts) == ["loss", "conditioning.auxiliary.class_loss", "loss.regularizers.r1",
                                  "loss.regularizers.r2", "augment", "instance_noise"]
