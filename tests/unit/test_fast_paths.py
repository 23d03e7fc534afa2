"""The speed paths change speed only: the benchmark's plain loop computes what ganlab's training path
computes, GPU-resident data gives the DataLoader's batches, speed options give the default's
weights, and logging every N iterations still reports the last iteration's losses.

CPU tests; the one that needs CUDA is marked and skipped without it. No timings are asserted
(bench/bench.py measures them).
"""
import copy
import dataclasses
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import ganlab_run  # noqa: E402
from cases import CASES, SyntheticImages, build_datamodule, build_networks  # noqa: E402
from plain_loop import PlainLoop, loader_batches, resident_batches  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
BATCH = 8


def tiny_data(case_name: str = "dcgan", **kwargs) -> SyntheticImages:
    return SyntheticImages(batch_size=BATCH, batches_per_iteration=CASES[case_name].d_steps_per_g_step, num_workers=0,
                           seed=0, num_images=256, image_size=16, channels=1, **kwargs)


def tiny_networks(case_name: str):
    return build_networks(CASES[case_name], (1, 16, 16), width=4, latent_dim=8, seed=0)


def train_ganlab(case_name: str, iterations: int = 3, data=None, device=torch.device("cpu"),
                 optimizer_options=None, **module_options):
    generator, discriminator = (copy.deepcopy(n) for n in tiny_networks(case_name))
    module = ganlab_run.build_module(generator, discriminator, CASES[case_name], iterations,
                                     optimizer_options=optimizer_options, **module_options)
    ganlab_run.fit(module, data or tiny_data(case_name), device, seed=0, logger=False)
    return module


def weights(*networks: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().cpu().clone() for n in networks for t in n.state_dict().values()]


def assert_same_weights(a: list[torch.Tensor], b: list[torch.Tensor], **tolerance) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, **tolerance)


@pytest.mark.parametrize("case_name", ["dcgan", "wgan_gp"])
def test_plain_loop_reaches_the_weights_of_ganlabs_training_path(case_name):
    """The benchmark compares like with like: same networks, steps, noise and batches."""
    data = tiny_data(case_name)
    generator, discriminator = (copy.deepcopy(n) for n in tiny_networks(case_name))
    initial = weights(generator, discriminator)
    plain = PlainLoop(generator, discriminator, CASES[case_name], resident_batches(data.train_dataset.images, BATCH))
    torch.manual_seed(0)  # as ganlab_run.ReseedAtFirstBatch does before ganlab's first step
    plain.run(3)
    module = train_ganlab(case_name, iterations=3, data=data)
    assert module.g_iter == 3
    assert_same_weights(weights(generator, discriminator), weights(module.generator, module.discriminator))
    changed = [not torch.equal(a, b) for a, b in zip(initial, weights(generator, discriminator))]
    assert sum(changed) > len(changed) // 2  # both players trained


def test_plain_loop_reaches_the_weights_of_ganlabs_training_path_on_the_2d_ring():
    """The PacGAN case (2-D points, MLPs with BatchNorm1d and maxout, ganlab's ring data module) too."""
    case = CASES["pacgan"]
    data = build_datamodule(case, BATCH, seed=0)
    data.size = 256  # the ring's points: a short epoch, so the 3 iterations need no more
    generator, discriminator = build_networks(case, data.image_shape, seed=0)
    initial = weights(generator, discriminator)
    module = ganlab_run.build_module(copy.deepcopy(generator), copy.deepcopy(discriminator), case, 3)
    ganlab_run.fit(module, data, torch.device("cpu"), seed=0, logger=False)
    plain = PlainLoop(generator, discriminator, case, resident_batches(data.train_dataset.images, BATCH))
    torch.manual_seed(0)
    plain.run(3)
    assert module.g_iter == 3 and data.train_dataset.images.dtype == torch.float32
    assert_same_weights(weights(generator, discriminator), weights(module.generator, module.discriminator))
    changed = [not torch.equal(a, b) for a, b in zip(initial, weights(generator, discriminator))]
    assert sum(changed) > len(changed) // 2


class BatchRecorder(pl.Callback):
    """The real batches of every D step, in order (a Lightning batch holds k of them)."""

    def __init__(self):
        self.batches = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches += list(batch[0].detach().cpu().clone())  # (k, b, c, h, w) -> k of (b, c, h, w)


def ganlab_batches(on_device: bool, iterations: int, case_name: str = "dcgan") -> list[torch.Tensor]:
    recorder = BatchRecorder()
    generator, discriminator = (copy.deepcopy(n) for n in tiny_networks(case_name))
    module = ganlab_run.build_module(generator, discriminator, CASES[case_name], iterations)
    data = tiny_data(case_name, on_device=on_device)
    trainer = pl.Trainer(accelerator=DEVICE.type, devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[recorder])
    trainer.fit(module, datamodule=data)
    if on_device:
        assert data.train_dataset.images.device.type == DEVICE.type
    return recorder.batches


def test_resident_data_gives_the_dataloaders_batches():
    """ganlab's on_device path, its DataLoader path and both plain-loop paths of the benchmark yield
    the same batches in the same order (over an epoch boundary: 256 images = 32 batches of 8)."""
    steps = 40
    loader = ganlab_batches(on_device=False, iterations=steps)
    resident = ganlab_batches(on_device=True, iterations=steps)
    assert len(loader) == len(resident) == steps
    for a, b in zip(loader, resident):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    images = tiny_data().train_dataset.images
    plain_resident = resident_batches(images.to(DEVICE), BATCH)
    plain_loader = loader_batches(images, BATCH, DEVICE)
    for step, expected in enumerate(loader[:32]):  # the plain DataLoader reshuffles differently after an epoch
        torch.testing.assert_close(next(plain_resident).cpu(), expected, rtol=0, atol=0)
        torch.testing.assert_close(next(plain_loader).cpu(), expected, rtol=0, atol=0, msg=f"batch {step}")
    epoch = torch.cat(resident[:32])  # (256, 1, 16, 16): every image once
    torch.testing.assert_close(epoch.mean(), images.float().div(127.5).sub(1).mean())


@pytest.mark.parametrize("on_device", [False, True])
def test_an_iteration_takes_the_next_k_batches_of_the_plain_loops_stream(on_device):
    """k = 5 D steps per G step: the 8 iterations' 40 batches are the plain loop's first 40 batches,
    across the epoch boundary at batch 32 (whole epochs of batches, each epoch its own permutation)."""
    batches = ganlab_batches(on_device=on_device, iterations=8, case_name="wgan_gp")
    plain = resident_batches(tiny_data("wgan_gp").train_dataset.images.to(DEVICE), BATCH)
    assert len(batches) == 40
    for step, expected in enumerate(batches):
        torch.testing.assert_close(next(plain).cpu(), expected, rtol=0, atol=0, msg=f"batch {step}")


@pytest.mark.parametrize("options", [
    {"detect_divergence": False},
    {"optimizer_options": {"foreach": True}},
    {"optimizer_options": {"fused": True}},
    {"data": "on_device"},
], ids=["no_divergence_check", "adam_foreach", "adam_fused", "on_device"])
def test_speed_options_give_the_defaults_weights(options):
    options = dict(options)
    if options.pop("data", None) == "on_device":
        options["data"] = tiny_data("wgan_gp", on_device=True)
    default = train_ganlab("wgan_gp", iterations=3)
    fast = train_ganlab("wgan_gp", iterations=3, **options)
    # fused Adam rounds differently in the last bits; everything else is the same arithmetic
    assert_same_weights(weights(default.generator, default.discriminator), weights(fast.generator, fast.discriminator),
                        rtol=1e-4, atol=1e-6)


class LoggedSteps(pl.loggers.Logger):
    """A logger that records the steps it is given."""

    def __init__(self):
        super().__init__()
        self.steps = []

    @property
    def name(self):
        return "steps"

    @property
    def version(self):
        return 0

    def log_metrics(self, metrics, step=None):
        self.steps.append(step)

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def run_logged(iterations: int, log_every_n: int):
    generator, discriminator = (copy.deepcopy(n) for n in tiny_networks("dcgan"))
    case = dataclasses.replace(CASES["dcgan"], d_steps_per_g_step=2)
    module = ganlab_run.build_module(generator, discriminator, case, iterations, log_every_n=log_every_n)
    calls = []
    log_dict = module.log_dict
    module.log_dict = lambda values, **kwargs: (calls.append(module.g_iter), log_dict(values, **kwargs))
    logger = LoggedSteps()
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=-1, logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[ganlab_run.ReseedAtFirstBatch(0)])
    trainer.fit(module, datamodule=SyntheticImages(batch_size=BATCH, batches_per_iteration=2, num_workers=0, seed=0,
                                                   num_images=256, image_size=16, channels=1))
    final = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss_")}
    return calls, logger.steps, final


def test_logging_every_n_iterations_still_reports_the_last_losses():
    calls, steps, final = run_logged(iterations=7, log_every_n=3)
    assert calls == [1, 3, 6, 7]  # progress bar: the logging iterations and the last, not every step
    assert steps == [1, 3, 6]  # the loggers' scalars: iteration 1 and every log_every_n-th
    _, _, every_iteration = run_logged(iterations=7, log_every_n=1)
    assert final.keys() == {"loss_d", "loss_g"}
    assert final == pytest.approx(every_iteration, rel=1e-6)  # the losses of iteration 7 either way


class SyncGuard(pl.Callback):
    """Turns CUDA's sync debug mode to `error` from the start of iteration `first` to the end of
    iteration `last`: any host-device synchronisation in that window raises."""

    def __init__(self, first: int, last: int):
        self.first, self.last, self.armed = first, last, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not self.armed and pl_module.g_iter == self.first - 1:
            torch.cuda.set_sync_debug_mode("error")
            self.armed = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.armed and pl_module.g_iter >= self.last:
            torch.cuda.set_sync_debug_mode(0)
            self.armed = False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU-only: CUDA's sync debug mode")
@pytest.mark.parametrize("case_name", ["dcgan", "wgan_gp"])
def test_no_host_sync_between_logging_iterations_on_cuda(case_name):
    """GPU-resident data, divergence check off (it reads one flag per step by design): iterations
    between two logging iterations queue their work without waiting for the GPU."""
    generator, discriminator = (copy.deepcopy(n) for n in tiny_networks(case_name))
    module = ganlab_run.build_module(generator, discriminator, CASES[case_name], 12, log_every_n=100,
                                     detect_divergence=False)
    trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[SyncGuard(first=3, last=10)])
    try:
        trainer.fit(module, datamodule=tiny_data(case_name, on_device=True))
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert module.g_iter == 12
