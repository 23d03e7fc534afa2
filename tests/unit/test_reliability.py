"""Reliability, in process: bad config and checkpoints give one clear message, divergence stops
training without touching the last good checkpoint, SIGINT/SIGTERM save and stop, checkpoint writes
are atomic. (tests/e2e/test_reliability.py runs the same through train.py.)"""
import math
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab.callbacks.graceful_stop import GracefulStop, IgnoreStopSignals
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint, save_atomically
from ganlab.checkpoints import CheckpointError, check_resumable, load_checkpoint
from ganlab.cli import CheckOutputDir, report_errors
from ganlab.config_checks import ConfigError, check_config, check_labels, check_writable_dir
from ganlab.losses import NonSaturatingLoss
from ganlab.module import DivergenceError, GANModule, all_finite
from ganlab.networks import DOut
from ganlab.train import build_module

CONF = Path(__file__).resolve().parents[2] / "conf"
UNWRITABLE = "/proc/ganlab_test/run"  # root ignores permission bits; /proc refuses new entries even to root


def compose_train(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides))


# --- bad configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("iterations", 0), ("iterations", -5), ("iterations", "many"), ("log_every_n", 0),
    ("data.batch_size", 0), ("data.batch_size", -1), ("loss.d_steps_per_g_step", 0),
    ("loss.lr", 0), ("loss.lr", -1e-4), ("optim.generator.lr", 0.0), ("optim.discriminator.lr", -1),
    ("callbacks.checkpoint.every_n", 0), ("callbacks.sample_grid.every_n", -1), ("data.image_size", 0),
])
def test_check_config_names_the_bad_key(key, value):
    cfg = compose_train("data=digits", f"{key}={value}")
    with pytest.raises(ConfigError, match=f"^{key.replace('.', '[.]')} must be a positive"):
        check_config(cfg)


def test_check_config_accepts_the_defaults():
    check_config(compose_train())
    check_config(compose_train("optim=rmsprop", "loss=wgan_gp", "loss.d_steps_per_g_step=5"))


def test_conditioning_without_labels_is_refused():
    cfg = compose_train("conditioning=concat")
    with pytest.raises(ConfigError, match="conditioning needs class labels.*conditioning=none"):
        check_labels(cfg, num_classes=0)
    check_labels(cfg, num_classes=10)


def test_unbuildable_image_size_names_data_image_size(capsys):
    cfg = compose_train("model=dcgan")
    with pytest.raises(SystemExit) as exit_info:
        report_errors(build_module, cfg, (1, 7, 7), 0)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.generator (DCGANGenerator): image size 7")
    assert "data.image_size" in err
    assert "Traceback" not in err and "Error in call to target" not in err


def test_user_errors_are_one_message_and_exit_2(capsys):
    def fails():
        raise ConfigError("iterations must be a positive integer, got 0")

    with pytest.raises(SystemExit) as exit_info:
        report_errors(fails)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[0] == "error: iterations must be a positive integer, got 0"


def test_traceback_on_request_and_for_bugs(monkeypatch):
    def config_error():
        raise ConfigError("bad value")

    def bug():
        raise ZeroDivisionError("a bug, not a user error")

    with pytest.raises(ZeroDivisionError):  # bugs keep their traceback
        report_errors(bug)
    monkeypatch.setenv("GANLAB_TRACEBACK", "1")
    with pytest.raises(ConfigError):
        report_errors(config_error)


# --- output directory ----------------------------------------------------------------------------

def test_unwritable_output_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot write the output directory /proc/ganlab_test/run \(paths.output_dir\)"):
        check_writable_dir(UNWRITABLE, "paths.output_dir")
    in_the_way = tmp_path / "file"
    in_the_way.write_text("not a directory")
    with pytest.raises(ConfigError, match="hydra.run.dir"):
        check_writable_dir(in_the_way / "run", "hydra.run.dir")
    assert check_writable_dir(tmp_path / "a" / "b", "paths.output_dir").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the probe leaves nothing behind


def test_hydra_callback_refuses_an_unwritable_run_dir(tmp_path, capsys):
    callback = CheckOutputDir()
    for hook, key in ((callback.on_run_start, "hydra.run.dir"), (callback.on_multirun_start, "hydra.sweep.dir")):
        config = OmegaConf.create({"hydra": {key.split(".")[1]: {"dir": UNWRITABLE}}})
        with pytest.raises(SystemExit) as exit_info:  # Hydra would turn any Exception into a warning
            hook(config)
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == (f"error: cannot write the output directory {UNWRITABLE} ({key}): No such "
                                           "file or directory. Choose a writable location: paths.log_dir=<dir> "
                                           f"(every run goes below it) or {key}=<dir>.\n")
    callback.on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "run")}}}))
    assert (tmp_path / "run").is_dir()


# --- a tiny GAN, trained in process --------------------------------------------------------------

class ToyGenerator(nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 1, 4, 4)  # (b, 1, 4, 4)


class ToyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.LeakyReLU(0.2))
        self.head = nn.Linear(8, 1)

    def forward(self, x, y=None):
        features = self.body(x)
        return DOut(score=self.head(features).squeeze(1), features=features)


class NaNLossAt(NonSaturatingLoss):
    """The GAN loss, except that D's loss is NaN at discriminator step `step` (1-based)."""

    def __init__(self, step: int):
        super().__init__()
        self.step, self.calls = step, 0

    def discriminator_loss(self, real, fake):
        self.calls += 1
        loss = super().discriminator_loss(real, fake)
        return loss * math.nan if self.calls == self.step else loss


class InfWeightAt:
    """A constraint that puts +Inf into one weight of D after its step `step`: the losses of that step
    are finite, only the weights show the divergence."""

    def __init__(self, step: int):
        self.step, self.calls = step, 0

    def __call__(self, discriminator: nn.Module) -> None:
        self.calls += 1
        if self.calls == self.step:
            with torch.no_grad():
                discriminator.head.bias.fill_(math.inf)


class LastCheckpointAtTrainEnd(pl.Callback):
    """Records, when training ends (before the checkpoint callback's own end-of-training save), the
    generator iteration last.ckpt holds."""

    def __init__(self, dirpath: Path):
        self.path, self.g_iter = dirpath / "last.ckpt", None

    def on_train_end(self, trainer, pl_module):
        self.g_iter = saved(self.path)["ganlab"]["g_iter"] if self.path.exists() else None


class SignalAt(pl.Callback):
    """Sends `signum` to this process at the end of generator iteration `g_iter`."""

    def __init__(self, signum: int, g_iter: int):
        self.signum, self.g_iter = signum, g_iter

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iter == self.g_iter:
            os.kill(os.getpid(), self.signum)


def toy_module(**kwargs) -> GANModule:
    options = dict(loss=NonSaturatingLoss(), iterations=10)
    options.update(kwargs)
    return GANModule(generator=ToyGenerator(), discriminator=ToyDiscriminator(),
                     generator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
                     discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), **options)


def fit(module: GANModule, callbacks=()) -> pl.Trainer:
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(64, 1, 4, 4) * 2 - 1, torch.zeros(64, dtype=torch.long))
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks))
    trainer.fit(module, DataLoader(data, batch_size=8, shuffle=True, drop_last=True))
    return trainer


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def finite_state(checkpoint: dict) -> bool:
    return all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if t.is_floating_point())


# --- divergence ----------------------------------------------------------------------------------

def test_all_finite_sees_nan_inf_and_buffers():
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    assert bool(all_finite(net))
    for bad in (math.nan, math.inf, -math.inf):
        for tensor in (net[0].weight, net[1].running_var):
            original = tensor.detach().clone()
            with torch.no_grad():
                tensor.view(-1)[1] = bad
            assert not bool(all_finite(net)), (bad, tensor.shape)
            with torch.no_grad():
                tensor.copy_(original)
    large = nn.Linear(1000, 1000).half()
    with torch.no_grad():
        large.weight.fill_(60000.0)  # finite in float16, though its norm (6e7) is not: computed in float32
    assert bool(all_finite(large))


@pytest.mark.parametrize("every_n", [1, 3])
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, caplog, every_n):
    checkpoints = IterationCheckpoint(str(tmp_path), every_n=every_n)
    with pytest.raises(DivergenceError) as error:
        fit(toy_module(loss=NaNLossAt(step=5)), [checkpoints])
    message = str(error.value)
    assert "diverged at generator iteration 5 " in message and "loss/d = nan" in message
    assert "not saving" not in caplog.text  # reported at the save of iteration 5, not skipped silently
    last = saved(tmp_path / "last.ckpt")
    assert last["ganlab"]["g_iter"] == 4 // every_n * every_n  # the last save before iteration 5
    assert finite_state(last)
    assert not (tmp_path / "iter_0000005.ckpt").exists() and not (tmp_path / "last.ckpt.tmp").exists()


def test_non_finite_weights_with_finite_losses_are_caught(tmp_path):
    checkpoints = IterationCheckpoint(str(tmp_path), every_n=2)
    with pytest.raises(DivergenceError, match="iteration 3 .*the discriminator weights hold NaN or Inf"):
        fit(toy_module(constraints=[InfWeightAt(step=3)]), [checkpoints])
    last = saved(tmp_path / "last.ckpt")
    assert last["ganlab"]["g_iter"] == 2 and finite_state(last)


@pytest.mark.parametrize("with_checkpoints", [True, False])
def test_divergence_at_the_last_iteration_is_reported_and_not_saved(tmp_path, with_checkpoints):
    callbacks = [IterationCheckpoint(str(tmp_path), every_n=1000)] if with_checkpoints else []
    with pytest.raises(DivergenceError, match="iteration 10 "):
        fit(toy_module(loss=NaNLossAt(step=10), iterations=10), callbacks)
    assert not (tmp_path / "last.ckpt").exists()


def test_divergence_counts_discriminator_steps(tmp_path):
    with pytest.raises(DivergenceError, match=r"generator iteration 3 \(discriminator step 5\)"):
        fit(toy_module(loss=NaNLossAt(step=5), d_steps_per_g_step=2))


def test_a_finite_run_is_not_stopped(tmp_path):
    module = toy_module(iterations=6)
    fit(module, [IterationCheckpoint(str(tmp_path), every_n=2)])
    assert module.g_iter == 6 and saved(tmp_path / "last.ckpt")["ganlab"]["g_iter"] == 6


# --- interruption --------------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_last_checkpoint_and_stops(tmp_path, signum):
    before = signal.getsignal(signum)
    stop, checkpoints = GracefulStop(), IterationCheckpoint(str(tmp_path), every_n=1000)
    probe, module = LastCheckpointAtTrainEnd(tmp_path), toy_module(iterations=50)
    fit(module, [probe, SignalAt(signum, g_iter=3), checkpoints, stop])
    assert stop.received == signum
    assert module.g_iter == 3  # the step that was running finished; no further step started
    assert probe.g_iter == 3  # saved at that step, before anything else (teardown) could fail
    assert saved(tmp_path / "last.ckpt")["ganlab"]["g_iter"] == 3
    assert signal.getsignal(signum) is before  # the handlers are put back after training


def test_signal_on_a_checkpoint_step_writes_once(tmp_path, monkeypatch):
    writes = []
    original = pl.Trainer.save_checkpoint
    monkeypatch.setattr(pl.Trainer, "save_checkpoint",
                        lambda self, path, *a, **k: (writes.append(Path(path).name), original(self, path, *a, **k)))
    fit(toy_module(iterations=50), [SignalAt(signal.SIGTERM, g_iter=4),
                                    IterationCheckpoint(str(tmp_path), every_n=2), GracefulStop()])
    assert writes == ["iter_0000002.ckpt.tmp", "last.ckpt.tmp", "iter_0000004.ckpt.tmp", "last.ckpt.tmp"]


def test_dataloader_workers_leave_stop_signals_to_the_trainer():
    calls, before = [], {signum: signal.getsignal(signum) for signum in GracefulStop.SIGNALS}
    try:
        IgnoreStopSignals(calls.append)(3)  # what a worker runs first
        assert all(signal.getsignal(signum) is signal.SIG_IGN for signum in GracefulStop.SIGNALS)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    assert calls == [3]  # the loader's own worker_init_fn still runs


def test_graceful_stop_wraps_worker_init_and_ignores_signals_in_workers(monkeypatch):
    loader = DataLoader(range(8), num_workers=2, worker_init_fn=print)
    stop = GracefulStop()
    stop.on_train_start(SimpleNamespace(train_dataloader=loader), None)
    try:
        assert isinstance(loader.worker_init_fn, IgnoreStopSignals) and loader.worker_init_fn.inner is print
        monkeypatch.setattr(os, "getpid", lambda: -1)  # a forked worker that inherited the handler
        stop._handle(signal.SIGTERM, None)
        assert stop.received is None
    finally:
        stop._restore_handlers()


def test_second_ctrl_c_interrupts_at_once():
    stop = GracefulStop()
    stop._handle(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)


# --- atomic checkpoint writes --------------------------------------------------------------------

@pytest.fixture
def trained(tmp_path):
    """A trainer after 4 iterations, with last.ckpt written at iteration 4."""
    module = toy_module(iterations=4)
    trainer = fit(module, [IterationCheckpoint(str(tmp_path), every_n=1000)])
    return trainer, module, tmp_path / "last.ckpt"


def test_crash_mid_save_leaves_last_checkpoint_intact(trained, monkeypatch):
    trainer, module, last = trained
    good = last.read_bytes()
    io = trainer.strategy.checkpoint_io

    def crash_half_way(checkpoint, path, storage_options=None):
        Path(path).write_bytes(good[: len(good) // 2])  # a truncated file, then the process "dies"
        raise KeyboardInterrupt("simulated crash mid-save")

    with torch.no_grad():
        module.generator.net[0].bias.add_(1.0)  # newer weights, not yet saved
    monkeypatch.setattr(io, "save_checkpoint", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_atomically(trainer, last)
    assert last.read_bytes() == good  # untouched
    assert saved(last)["ganlab"]["g_iter"] == 4
    monkeypatch.undo()
    assert save_atomically(trainer, last)  # the stale .tmp does not get in the way
    assert not last.with_name("last.ckpt.tmp").exists()
    torch.testing.assert_close(saved(last)["state_dict"]["generator.net.0.bias"], module.generator.net[0].bias)


def test_failed_write_is_a_clear_error_and_cleans_up(trained, monkeypatch):
    trainer, _, last = trained
    good = last.read_bytes()

    def disk_full(checkpoint, path, storage_options=None):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer.strategy.checkpoint_io, "save_checkpoint", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous one, if any, is intact"):
        save_atomically(trainer, last)
    assert last.read_bytes() == good and not last.with_name("last.ckpt.tmp").exists()


def test_nan_weights_are_never_saved(trained):
    trainer, module, last = trained
    good = last.read_bytes()
    with torch.no_grad():
        module.discriminator.head.weight.fill_(math.nan)
    assert not save_atomically(trainer, last)
    assert last.read_bytes() == good


# --- checkpoints given by the user ---------------------------------------------------------------

def test_load_checkpoint_explains_what_is_wrong(trained, tmp_path):
    _, _, last = trained
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.ckpt")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="not a ganlab checkpoint"):
        load_checkpoint(last)  # written without RunConfig: no `ganlab_run` entry
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="not a ganlab checkpoint"):
        load_checkpoint(other)


def test_resuming_with_another_model_names_the_difference():
    cfg_small = compose_train("model=dcgan", "model.generator.width=8", "model.discriminator.width=8")
    cfg_large = compose_train("model=dcgan", "model.generator.width=16", "model.discriminator.width=8")
    small, large = (build_module(c, (1, 28, 28), 0) for c in (cfg_small, cfg_large))
    checkpoint = {"state_dict": small.state_dict(),
                  "ganlab_run": {"config": OmegaConf.to_container(cfg_small)}}
    check_resumable(checkpoint, small, "x.ckpt", OmegaConf.to_container(cfg_small))
    with pytest.raises(CheckpointError, match=r"x.ckpt does not fit .* has shape .*model.generator.width=8\b"):
        check_resumable(checkpoint, large, "x.ckpt", OmegaConf.to_container(cfg_large))
