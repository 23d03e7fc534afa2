"""The step options of issue #14 inside a real training run: learning-rate schedules (values logged,
resumed exactly), diagnostics (gradient norms, the share D judges right, the 'D wins' warning),
instance noise on D's inputs, relativistic losses and BEGAN's k_t through a checkpoint."""
import logging

import pytest
import torch
from pytorch_lightning.loggers import Logger

from ganlab import names
from ganlab.augment.instance_noise import InstanceNoise
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.diagnostics import DiscriminatorWinsWatch
from ganlab.losses import BoundaryEquilibriumLoss, RelativisticPairingLoss
from ganlab.networks import DOut
from ganlab.schedules import Cosine, LinearDecay

from helpers import ToyData, fit_module, make_toy_module

LR = 1e-2


class RecordingLogger(Logger):
    name, version = "recording", 0

    def __init__(self):
        super().__init__()
        self.logged: dict[int, dict] = {}

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.logged.setdefault(step, {}).update(metrics)


def train(iterations=8, ckpt_path=None, callbacks=(), **options):
    module = make_toy_module(lr=LR, iterations=iterations, log_every_n=1, **options)
    logger = RecordingLogger()
    fit_module(module, ToyData(n=32), callbacks=list(callbacks), logger=logger, ckpt_path=ckpt_path)
    return module, logger.logged


def test_learning_rates_follow_their_schedules_per_player():
    T = 8
    _, logged = train(iterations=T, generator_schedule=LinearDecay(total=T), discriminator_schedule=Cosine(total=T))
    for g_iter in range(1, T + 1):  # iteration g_iter (1-based) trains with t = g_iter - 1
        t = g_iter - 1
        assert logged[g_iter][names.LR_G] == pytest.approx(LR * (1 - t / T))
        assert logged[g_iter][names.LR_D] == pytest.approx(LR * Cosine(total=T)(t))
    assert logged[T // 2 + 1][names.LR_G] == pytest.approx(LR / 2)  # t = T/2


def test_a_resumed_run_continues_the_schedule_exactly(tmp_path):
    T = 8
    schedules = lambda: dict(generator_schedule=LinearDecay(total=T), discriminator_schedule=LinearDecay(total=T))
    _, whole = train(iterations=T, **schedules())
    train(iterations=4, callbacks=[IterationCheckpoint(str(tmp_path), every_n=4)], **schedules())
    _, resumed = train(iterations=T, ckpt_path=str(tmp_path / "last.ckpt"), **schedules())
    assert sorted(resumed) == list(range(5, T + 1))
    for g_iter in range(5, T + 1):
        assert resumed[g_iter][names.LR_G] == whole[g_iter][names.LR_G]
        assert resumed[g_iter][names.LR_D] == whole[g_iter][names.LR_D]


def test_diagnostics_are_logged_on_logging_iterations():
    _, logged = train(iterations=3)
    for g_iter in (1, 2, 3):
        scalars = logged[g_iter]
        assert scalars[names.GRAD_NORM_G] > 0 and scalars[names.GRAD_NORM_D] > 0
        assert 0.0 <= scalars[names.REAL_AS_REAL] <= 1.0 and 0.0 <= scalars[names.FAKE_AS_FAKE] <= 1.0


def test_gradient_norms_are_measured_only_when_logged():
    module = make_toy_module(iterations=6, log_every_n=3)
    seen, original = [], module._generator_step

    def probe(*args, **kwargs):
        seen.append(kwargs.get("diagnose", False))
        return original(*args, **kwargs)

    module._generator_step = probe
    fit_module(module, ToyData(n=48), logger=RecordingLogger())
    assert seen == [True, False, True, False, False, True]  # iterations 1, 3 and 6


def test_gradient_norm_of_d_is_that_of_its_last_step():
    """The logged D norm equals the norm of the gradient D's last step applied (measured here by a
    probe that records it between backward and the step)."""
    module = make_toy_module(iterations=1, log_every_n=1, d_steps_per_g_step=2)
    recorded = []
    original = module._discriminator_step

    def probe(*args, **kwargs):
        step, terms, loss = original(*args, **kwargs)
        recorded.append(terms.get(names.GRAD_NORM_D))
        return step, terms, loss

    module._discriminator_step = probe
    logger = RecordingLogger()
    fit_module(module, ToyData(n=16, batches_per_iteration=2), logger=logger)
    assert recorded[0] is None and recorded[1] is not None  # only the iteration's last D step
    assert logger.logged[1][names.GRAD_NORM_D] == pytest.approx(recorded[1].item())


def test_the_d_wins_warning_appears_once(caplog):
    class Separating(torch.nn.Module):  # real images (all 1) score +50, G's (mean ~0) about -50: D's loss ~ 0
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, y=None):
            return DOut(score=100 * (x.flatten(1).mean(1) - 0.5) + 0 * self.w)

    class Real(ToyData):
        def __init__(self):
            super().__init__(n=64)
            self.images = torch.ones_like(self.images)  # mean 1 > 0.5; G's tanh samples are near 0

    module = make_toy_module(iterations=12, log_every_n=4, d_loss_watch=DiscriminatorWinsWatch(1e-3, patience=5))
    module.discriminator = Separating()
    with caplog.at_level(logging.WARNING, logger="ganlab.diagnostics"):
        fit_module(module, Real(), logger=RecordingLogger())
    warnings = [r for r in caplog.records if "stayed within" in r.getMessage()]
    assert len(warnings) == 1 and "iteration 8" in warnings[0].getMessage()  # first logging iteration after 5


def test_instance_noise_reaches_d_annealed():
    seen = []

    class Recording(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(16, 1)

        def forward(self, x, y=None):
            seen.append(x.detach().clone())
            return DOut(score=self.lin(x.flatten(1)).squeeze(1))

    module = make_toy_module(iterations=2, parts={"instance_noise": InstanceNoise(std=0.5, anneal_iterations=1)})
    module.discriminator = Recording()
    data = ToyData(n=16, same_images=True)
    fit_module(module, data)
    real_first, real_second = seen[0], seen[3]  # D step (real, fake), G step (fake) per iteration

    def clean(batch):  # every image is one of the data's, untouched
        return all(any(torch.equal(image, x) for x in data.images[:8]) for image in batch)

    assert not clean(real_first)  # iteration 0: sigma 0.5
    assert clean(real_second)  # iteration 1: sigma 0


def test_relativistic_g_loss_reads_d_on_real_and_trains():
    module, logged = train(iterations=2, loss=RelativisticPairingLoss())
    assert module.g_iter == 2 and all(torch.isfinite(p).all() for p in module.parameters())
    assert logged[2][names.REAL_AS_REAL] == logged[2][names.FAKE_AS_FAKE]


class Autoencoder(torch.nn.Module):
    """A toy autoencoder D: energy = per-sample mean squared reconstruction error."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4), torch.nn.Linear(4, 16))

    def forward(self, x, y=None):
        rec = self.net(x).view_as(x)
        return DOut(score=(rec - x).pow(2).flatten(1).mean(1), reconstruction=rec)


def began_module(iterations):
    module = make_toy_module(iterations=iterations, log_every_n=1, loss=BoundaryEquilibriumLoss(lambda_k=0.05))
    module.discriminator = Autoencoder()
    return module


def test_began_logs_k_and_m_global_and_resumes_k(tmp_path):
    whole = began_module(6)
    logger = RecordingLogger()
    fit_module(whole, ToyData(n=48), logger=logger)
    ks = [logger.logged[i][names.BEGAN_K] for i in range(1, 7)]
    assert all(0.0 <= k <= 1.0 for k in ks) and len(set(ks)) > 1  # the controller moves
    assert all(logger.logged[i][names.BEGAN_M_GLOBAL] > 0 for i in range(1, 7))
    assert whole.loss.k.item() == pytest.approx(ks[-1])

    first = began_module(3)
    fit_module(first, ToyData(n=48), callbacks=[IterationCheckpoint(str(tmp_path), every_n=3)])
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)["state_dict"]["loss.k"]
    assert saved.item() == pytest.approx(ks[2])
    resumed = began_module(6)
    logger = RecordingLogger()
    fit_module(resumed, ToyData(n=48), logger=logger, ckpt_path=str(tmp_path / "last.ckpt"))
    assert [logger.logged[i][names.BEGAN_K] for i in range(4, 7)] == pytest.approx(ks[3:])
