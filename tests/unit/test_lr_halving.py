"""BEGAN's lr halving when M_global stalls (callbacks/lr_halving.py): the rule on known window
means, the callback on a known sequence of step terms, its state across a resume, and in a fit."""
import pytest
import torch

from ganlab.callbacks.lr_halving import HalveLearningRateOnStall, StallHalving
from ganlab.config_checks import ConfigError
from ganlab.names import BEGAN_M_GLOBAL
from ganlab.schedules import Constant

from helpers import RecordingLogger, fit_module, make_toy_module


def test_the_rule_halves_when_a_window_is_no_better_than_the_last():
    rule = StallHalving()
    decisions = [rule.end_window(m) for m in [1.0, 0.9, 0.95, 0.8, 0.8, 0.7999, 0.5]]
    # the first window sets the reference; 0.95 > 0.9 stalls; 0.8 = 0.8 stalls; 0.7999 is a fall of
    # 1.25e-4 (> 1e-4): progress; 0.5: progress.
    assert decisions == [False, False, True, False, True, False, False]
    assert rule.halvings == 2 and rule.factor == 0.25


def test_a_fall_below_the_minimum_improvement_is_a_stall():
    rule = StallHalving(rate=0.5, min_improvement=0.1)
    assert [rule.end_window(m) for m in [1.0, 0.95, 0.8]] == [False, True, False]
    assert rule.factor == 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"rate": 1.0}, "rate must be a number in (0, 1), got 1.0"), ({"rate": 0.0}, "rate must be a number in (0, 1), got 0.0"),
    ({"min_improvement": 1.0}, "min_improvement must be a number in [0, 1), got 1.0"),
    ({"window": 0}, "window must be a positive integer, got 0"),
])
def test_bad_settings_name_their_key(kwargs, message):
    """The argument's name; the config key is added where Hydra builds it (test_config_checks)."""
    with pytest.raises(ConfigError) as error:
        HalveLearningRateOnStall(**kwargs)
    assert str(error.value) == message


class Trainer:
    def __init__(self, lrs):
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
        self.optimizers = [torch.optim.Adam([p], lr=lr) for p, lr in zip(params, lrs)]
        self.loggers = [RecordingLogger()]
        self.module = Module()  # its generator-iteration counter


class Module:
    def __init__(self):
        self.g_iter = 0


def feed(callback, trainer, values, module=None):
    module = module or trainer.module
    for value in values:
        module.g_iter += 1
        callback.on_train_batch_end(trainer, module, {BEGAN_M_GLOBAL: torch.tensor(value)}, None, 0)


def test_the_callback_halves_both_players_on_window_means():
    trainer = Trainer([1e-3, 4e-4])
    callback = HalveLearningRateOnStall(window=2)
    callback.on_train_start(trainer, Module())
    feed(callback, trainer, [1.0, 0.8])  # window mean 0.9: the reference
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers] == [1e-3, 4e-4]
    feed(callback, trainer, [1.0, 1.0])  # 1.0 > 0.9: halved
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers] == [5e-4, 2e-4]
    assert [o.defaults["lr"] for o in trainer.optimizers] == [5e-4, 2e-4]  # what a schedule multiplies
    feed(callback, trainer, [0.5, 0.6, 0.7])  # 0.55 < 1.0: progress; one iteration into the next window
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers] == [5e-4, 2e-4]
    logged = [(step, m[f"{BEGAN_M_GLOBAL}_window"]) for step, m in trainer.loggers[0].logged]
    assert logged == [(2, pytest.approx(0.9)), (4, pytest.approx(1.0)), (6, pytest.approx(0.55))]

    # a resume: a fresh callback and fresh optimisers at the configured lr, then the saved state
    state = callback.state_dict()
    resumed, trainer2 = HalveLearningRateOnStall(window=2), Trainer([1e-3, 4e-4])
    resumed.load_state_dict(state)
    resumed.on_train_start(trainer2, Module())
    assert [o.param_groups[0]["lr"] for o in trainer2.optimizers] == [5e-4, 2e-4]
    feed(resumed, trainer2, [0.7])  # completes the window begun before: mean 0.7 > 0.55, halved again
    assert [o.param_groups[0]["lr"] for o in trainer2.optimizers] == [2.5e-4, 1e-4]


def test_a_step_without_the_monitored_term_is_a_clear_error():
    trainer = Trainer([1e-3])
    callback = HalveLearningRateOnStall(window=2)
    callback.on_train_start(trainer, Module())
    with pytest.raises(ConfigError, match="began/m_global"):
        callback.on_train_batch_end(trainer, Module(), {"loss/d": torch.tensor(1.0)}, None, 0)


def test_in_a_fit_the_step_terms_reach_the_callback_and_the_lr_it_sets_is_trained_with():
    # The toy GAN's D loss as the monitor, with a minimum improvement no window can meet: every
    # window after the first halves, and the module's constant schedule keeps the halved lr.
    module = make_toy_module(lr=1e-2, iterations=6, generator_schedule=Constant(), discriminator_schedule=Constant())
    callback = HalveLearningRateOnStall(monitor="loss/d", window=2, min_improvement=0.99)
    fit_module(module, callbacks=[callback])
    assert callback.rule.halvings == 2
    g_opt, d_opt = module.optimizers()
    assert g_opt.param_groups[0]["lr"] == pytest.approx(2.5e-3) == d_opt.param_groups[0]["lr"]


def test_its_summary_gives_the_last_window_and_the_halvings():
    trainer = Trainer([1e-3])
    callback = HalveLearningRateOnStall(window=2)
    assert callback.summary() == {"final/lr_halvings": 0.0}
    callback.on_train_start(trainer, Module())
    feed(callback, trainer, [1.0, 0.8, 1.0, 1.0])
    assert callback.summary() == {"final/began/m_global_window": pytest.approx(1.0), "final/lr_halvings": 1.0}
    assert sorted(callback.summary_names) == sorted(callback.summary())
