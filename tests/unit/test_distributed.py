"""GANDDPStrategy: two CPU processes (gloo) training a GAN equal one process on the same global batch.

The check is arithmetic: with the same noise and the same images split over two ranks, averaging
each backward's gradients over the ranks is the gradient of the global batch's mean loss, so after
a few steps both ranks hold the weights a single process reaches on the whole batch (SGD, no
BatchNorm; float32 sums in another order, hence a tolerance).
"""
import os
import queue
import subprocess
import sys
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

from hydra.utils import instantiate

from ganlab import CONFIG_DIR
from ganlab.config_checks import ConfigError
from ganlab.data.sampler import EpochShuffleSampler, ResumableDataLoader
from ganlab.distributed import GANDDPStrategy, _ResultCarryingLauncher, check_data_parallel, weight_fingerprint
from ganlab.losses import NonSaturatingLoss
from ganlab.latents import LatentSample
from ganlab.module import GANModule
from ganlab.networks import DOut

from helpers import ToyGenerator, compose_config

CONF = CONFIG_DIR
SHAPE = (1, 4, 4)
GLOBAL_BATCH = 16
ITERATIONS = 3
D_STEPS = 2


class RunningInputMean(nn.Module):
    """A buffer updated in training forwards (like BatchNorm's running mean) that leaves the output
    alone: its value after training shows whether the ranks' buffers were averaged."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(features))

    def forward(self, x):
        if self.training:
            self.running_mean.mul_(0.9).add_(0.1 * x.detach().mean(0))
        return x


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), RunningInputMean(16), nn.Linear(16, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return DOut(score=self.net(x).squeeze(1))


class SharedNoiseGAN(GANModule):
    """Draws the global batch's noise from a seed shared by all ranks, and keeps this rank's rows:
    the ranks together use exactly the noise a single process uses for the global batch."""

    def sample_latent(self, n: int) -> LatentSample:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        z = torch.randn(n * world, self.latent_dim, generator=torch.Generator().manual_seed(1000 + self.d_iter))
        return LatentSample(z[rank * n:(rank + 1) * n].to(self.device))


class SaveWeightsPerRank(pl.Callback):
    def __init__(self, dirpath: Path):
        self.dirpath = dirpath

    def on_train_end(self, trainer, pl_module):
        torch.save({k: v.clone() for k, v in pl_module.state_dict().items()},
                   self.dirpath / f"rank{trainer.global_rank}.pt")


class CountBatches(pl.Callback):
    """A stateful callback: spawn must bring its state back to the main process (as for the FID
    results of the metrics callback)."""

    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1

    def state_dict(self):
        return {"batches": self.batches}

    def load_state_dict(self, state):
        self.batches = state["batches"]


class Images(pl.LightningDataModule):
    """64 fixed random images, shuffled by the (rank-aware) EpochShuffleSampler."""

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        x = torch.rand(64, *SHAPE, generator=g) * 2 - 1  # (64, 1, 4, 4)
        dataset = TensorDataset(x, torch.zeros(64, dtype=torch.long))
        return ResumableDataLoader(dataset, batch_size=self.batch_size, sampler=EpochShuffleSampler(len(dataset), seed=0),
                                   batches_per_iteration=D_STEPS)


def make_module() -> SharedNoiseGAN:
    torch.manual_seed(0)
    return SharedNoiseGAN(ToyGenerator(side=SHAPE[1]), Discriminator(), NonSaturatingLoss(),
                          generator_optimizer=partial(torch.optim.SGD, lr=0.1),  # (picklable: spawn)
                          discriminator_optimizer=partial(torch.optim.SGD, lr=0.1),
                          d_steps_per_g_step=D_STEPS, iterations=ITERATIONS, log_every_n=1)


def fit(devices: int, tmp_path: Path) -> tuple[pl.Trainer, SharedNoiseGAN]:
    strategy = (GANDDPStrategy(process_group_backend="gloo", start_method="spawn") if devices > 1 else "auto")
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy=strategy, use_distributed_sampler=False,
                         max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[SaveWeightsPerRank(tmp_path), CountBatches()])
    module = make_module()
    trainer.fit(module, datamodule=Images(GLOBAL_BATCH // devices))
    return trainer, module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One two-process run and one single-process run on the same global batches and noise."""
    ddp_dir, single_dir = tmp_path_factory.mktemp("ddp"), tmp_path_factory.mktemp("single")
    ddp_trainer, ddp_module = fit(2, ddp_dir)
    fit(1, single_dir)
    return {"ddp": [torch.load(ddp_dir / f"rank{r}.pt") for r in (0, 1)],
            "single": torch.load(single_dir / "rank0.pt"),
            "ddp_module": ddp_module, "ddp_trainer": ddp_trainer}


def test_both_ranks_hold_identical_weights_and_buffers(runs):
    rank0, rank1 = runs["ddp"]
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"


def test_two_ranks_equal_one_process_on_the_global_batch(runs):
    start = make_module().state_dict()
    for name, single in runs["single"].items():
        if single.is_floating_point():
            assert not torch.equal(single, start[name]), f"{name} did not train"
        torch.testing.assert_close(runs["ddp"][0][name], single, rtol=1e-5, atol=1e-6, msg=name)


def test_main_process_gets_counters_callback_states_and_losses_back(runs):
    # spawn: the main process receives rank 0's weights, iteration counters, callback states and losses
    assert runs["ddp_module"].g_iter == ITERATIONS
    assert runs["ddp_module"].d_iter == D_STEPS * ITERATIONS
    counter = next(c for c in runs["ddp_trainer"].callbacks if isinstance(c, CountBatches))
    assert counter.batches == ITERATIONS  # one batch per generator iteration
    assert {"loss_d", "loss_g"} <= set(runs["ddp_trainer"].callback_metrics)


def test_weight_fingerprint_sees_a_one_ulp_change():
    module = Discriminator()
    before = weight_fingerprint(module)
    with torch.no_grad():
        p = next(module.parameters())
        p.view(-1)[0] = torch.nextafter(p.view(-1)[0], torch.tensor(1.0))
    assert not torch.equal(before, weight_fingerprint(module))


def _rank_with_a_process_group(run_with_error: bool) -> str:
    """What a spawned rank runs, in miniature: joins a one-process gloo group (and fails if asked)."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    if run_with_error:
        raise RuntimeError("the rank's training failed")
    return "trained"


@pytest.mark.parametrize("run_with_error", [False, True])
def test_spawned_rank_destroys_its_process_group_before_exit(run_with_error):
    # A worker that exits with its gloo group alive aborts now and then at interpreter shutdown
    # (SIGABRT, "terminate called without an active exception"): the launcher must destroy it,
    # after a failure too. Run here in-process: the same function a spawned rank runs.
    launcher = _ResultCarryingLauncher(GANDDPStrategy(process_group_backend="gloo", start_method="spawn"),
                                       start_method="spawn")
    results = queue.Queue()
    failure = pytest.raises(RuntimeError, match="training failed") if run_with_error else nullcontext()
    # (OMP_NUM_THREADS set: the launcher would otherwise change this process's torch thread count)
    with mock.patch.dict("os.environ", {"OMP_NUM_THREADS": str(torch.get_num_threads())}), failure:
        launcher._wrapping_function(0, None, _rank_with_a_process_group, (run_with_error,), {}, results)
    if not run_with_error:
        assert results.get_nowait() == "trained"
    assert not dist.is_initialized()


POPEN_RANK_EXIT = """
import atexit
import torch.distributed as dist
import pytorch_lightning as pl
from ganlab.distributed import GANDDPStrategy

# Registered first, so it runs last (atexit is last-in, first-out): what the interpreter finalises.
atexit.register(lambda: print("group alive at interpreter exit:", dist.is_initialized()))
trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=GANDDPStrategy(process_group_backend="gloo"),
                     logger=False, enable_checkpointing=False, enable_progress_bar=False)
trainer.strategy.setup_environment()
assert dist.is_initialized()
"""


def test_popen_rank_destroys_its_process_group_before_the_interpreter_exits(tmp_path):
    # A popen (or torchrun) rank ends through the interpreter's exit; Lightning destroys the group
    # there for NCCL only, and a gloo group left alive aborts the process now and then.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # (Lightning picks a free port)
    result = subprocess.run([sys.executable, "-c", POPEN_RANK_EXIT], capture_output=True, text=True,
                            timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "group alive at interpreter exit: False" in result.stdout


def test_ddp_wrapper_arguments_are_refused():
    with pytest.raises(ConfigError, match="find_unused_parameters"):
        GANDDPStrategy(find_unused_parameters=True)


def trainer(strategy, devices: int = 2) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False)


def test_other_multi_process_strategies_are_refused():
    with pytest.raises(ConfigError, match="trainer=ddp"):
        check_data_parallel(trainer("ddp"), in_multirun=False)
    check_data_parallel(trainer("auto", devices=1), in_multirun=False)  # one process: anything goes


def test_popen_inside_a_multirun_is_refused():
    popen = trainer(GANDDPStrategy(process_group_backend="gloo", start_method="popen"))
    check_data_parallel(popen, in_multirun=False)
    with pytest.raises(ConfigError, match="ddp_spawn"):
        check_data_parallel(popen, in_multirun=True)
    spawn = trainer(GANDDPStrategy(process_group_backend="gloo", start_method="spawn"))
    check_data_parallel(spawn, in_multirun=True)


@pytest.mark.parametrize("option, start_method", [("ddp", "popen"), ("ddp_spawn", "spawn"), ("ddp_cpu", "popen")])
def test_data_parallel_trainer_configs_build_the_gan_strategy(tmp_path, option, start_method):
    # (GPU options are built on the CPU here: accelerator=cpu, two processes)
    cfg = compose_config(f"trainer={option}", "trainer.accelerator=cpu", "trainer.devices=2", output_dir=tmp_path)
    assert cfg.trainer.use_distributed_sampler is False  # the DataModules shard the data themselves
    built = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert isinstance(built.strategy, GANDDPStrategy)
    assert built.strategy._start_method == start_method
    assert built.num_devices == 2


def test_sync_batchnorm_on_the_cpu_is_refused():
    strategy = GANDDPStrategy(process_group_backend="gloo")
    cpu = pl.Trainer(accelerator="cpu", devices=2, strategy=strategy, sync_batchnorm=True, logger=False)
    with pytest.raises(ConfigError, match="sync_batchnorm"):
        check_data_parallel(cpu, in_multirun=False)
