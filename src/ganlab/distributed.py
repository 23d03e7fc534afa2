"""Data-parallel training for GANs with manual optimisation.

Wrapping a GAN in DistributedDataParallel fits badly: the discriminator step leaves the generator's
parameters unused (plain DDP raises, Lightning #20328, #20866), the generator step freezes the
discriminator, and there are two backward passes per forward. `GANDDPStrategy` keeps the module
unwrapped and does by hand what DDP would do:

- start: the weights and buffers of rank 0 are broadcast, so every rank starts identical;
- every `manual_backward`: the gradients that backward produced are averaged over all ranks
  (Lightning calls `Strategy.post_backward` from `manual_backward`), so each player's optimiser
  steps on the gradient of the global batch and every rank applies the same update. Under
  `16-mixed` the scaled gradients are averaged: an overflow on one rank reaches every rank, and
  the GradScaler skips the step everywhere;
- every training step: floating-point buffers (BatchNorm running statistics) are averaged, so
  every rank, the checkpoints and the sample grids hold the same statistics. Within a step each
  rank normalises with its own batch's statistics (as plain DDP does); `trainer.sync_batchnorm=true`
  converts BatchNorm to SyncBatchNorm (GPU only), which normalises with the global batch;
- end: the ranks compare their weights; a difference raises `ReplicaDesyncError`.

`start_method=spawn` (for Hydra multiruns) returns the iteration counters and callback states to
the main process along with the weights, so `run()` reports the same results as with popen.
"""
from __future__ import annotations

import atexit
import io
from collections.abc import Iterable
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from lightning_utilities.core.apply_func import apply_to_collection
from pytorch_lightning.overrides.distributed import _sync_module_states
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.strategies.launchers import _MultiProcessingLauncher
from torch import Tensor, nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from ganlab.config_checks import ConfigError


class ReplicaDesyncError(RuntimeError):
    """The ranks of a data-parallel run no longer hold the same weights."""


def _average_in_place(tensors: list[Tensor], world_size: int) -> None:
    """Averages `tensors` over all ranks, one flat buffer (one all-reduce) per dtype."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor.dtype, []).append(tensor)
    for group in by_dtype.values():
        flat = _flatten_dense_tensors(group)
        dist.all_reduce(flat)
        flat.div_(world_size)
        for tensor, averaged in zip(group, _unflatten_dense_tensors(flat, group)):
            tensor.copy_(averaged)


def average_gradients(parameters: Iterable[nn.Parameter], world_size: int) -> None:
    """All-reduces (mean) the existing gradients of `parameters`. Every rank must hold gradients
    for the same parameters (it does: all ranks run the same step)."""
    _average_in_place([p.grad for p in parameters if p.grad is not None], world_size)


def average_buffers(module: nn.Module, world_size: int) -> None:
    """All-reduces (mean) the floating-point buffers of `module` (BatchNorm running statistics)."""
    _average_in_place([b for b in module.buffers() if b.is_floating_point()], world_size)


def weight_fingerprint(module: nn.Module) -> Tensor:
    """(2 * number of parameters,) float64: each parameter's sum and sum of squares."""
    stats = [torch.stack([p.detach().double().sum(), p.detach().double().pow(2).sum()]) for p in module.parameters()]
    return torch.cat(stats) if stats else torch.zeros(0, dtype=torch.float64)


def check_replicas_in_sync(module: nn.Module, device: torch.device) -> None:
    """Raises ReplicaDesyncError unless every rank holds the same weights (exactly: all ranks apply
    the same averaged update to the same weights)."""
    local = weight_fingerprint(module).to(device)
    gathered = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, local)
    names = [name for name, _ in module.named_parameters()]
    for rank, other in enumerate(gathered[1:], start=1):
        differs = (other != gathered[0]).view(-1, 2).any(1).nonzero().flatten().tolist()
        if differs:
            raise ReplicaDesyncError(
                f"data-parallel ranks 0 and {rank} hold different weights ({len(differs)} tensors, e.g. "
                f"{names[differs[0]]}). Gradients were not averaged over every rank: was the model "
                "changed outside manual_backward/optimizer.step?")


def destroy_process_group_if_initialized() -> None:
    """Destroys this process's process group, if it has one. A process that exits with its gloo
    group alive leaves gloo's threads to the interpreter's finalisation, which aborts the process
    now and then ("terminate called without an active exception", SIGABRT; pytorch/pytorch#179291)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _ResultCarryingLauncher(_MultiProcessingLauncher):
    """The spawn launcher, which also returns to the main process the module's iteration counters
    and the callbacks' states (Lightning returns the weights and logged metrics only), so `run()`
    reports the iterations done and the metrics callbacks' results (final/fid, ...) as it does
    with popen."""

    def _wrapping_function(self, *args: Any, **kwargs: Any) -> None:
        """Runs one spawned rank, then destroys its process group while the interpreter is still
        whole, as soon as the rank's work ends (also under start_method=fork, whose workers leave
        through os._exit and so run no atexit handler)."""
        try:
            super()._wrapping_function(*args, **kwargs)
        finally:
            destroy_process_group_if_initialized()

    def get_extra_results(self, trainer) -> dict[str, Any]:
        extra = super().get_extra_results(trainer)
        module = trainer.lightning_module
        extra["ganlab_counters"] = {k: getattr(module, k) for k in ("g_iter", "d_iter") if hasattr(module, k)}
        states = [apply_to_collection(c.state_dict(), Tensor, lambda t: t.cpu()) for c in trainer.callbacks]
        buffer = io.BytesIO()
        torch.save(states, buffer)  # (Lightning ships its callback metrics the same way)
        extra["ganlab_callback_states"] = buffer.getvalue()
        return extra

    def update_main_process_results(self, trainer, extra: dict[str, Any]) -> None:
        super().update_main_process_results(trainer, extra)
        for name, value in extra.get("ganlab_counters", {}).items():
            setattr(trainer.lightning_module, name, value)
        if "ganlab_callback_states" in extra:
            states = torch.load(io.BytesIO(extra["ganlab_callback_states"]), weights_only=False)
            for callback, state in zip(trainer.callbacks, states):
                if state:
                    callback.load_state_dict(state)


class GANDDPStrategy(DDPStrategy):
    """`strategy: {_target_: ganlab.distributed.GANDDPStrategy}`: DDP without the DDP wrapper.

    Takes DDPStrategy's arguments (`process_group_backend`, `start_method`: popen (default, one
    process per device as torchrun does; also right under SLURM/torchrun, which start the processes
    themselves) or spawn (inside a Hydra multirun), `timeout`, `cluster_environment`). Arguments of
    torch's DistributedDataParallel wrapper (find_unused_parameters, static_graph, ...) do not apply.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self._ddp_kwargs or self._ddp_comm_hook is not None or self._model_averaging_period is not None:
            unused = ", ".join([*self._ddp_kwargs, *(["ddp_comm_hook"] if self._ddp_comm_hook else []),
                                *(["model_averaging_period"] if self._model_averaging_period else [])])
            raise ConfigError(
                f"trainer.strategy: {unused} configure(s) torch's DistributedDataParallel wrapper, which "
                "ganlab.distributed.GANDDPStrategy does not use (it averages each player's gradients "
                "itself, so no parameter is ever 'unused'). Remove it from the trainer config.")

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        if self._start_method != "popen":
            self._launcher = _ResultCarryingLauncher(self, start_method=self._start_method)

    def setup_distributed(self) -> None:
        super().setup_distributed()
        # The processes of start_method=popen (and torchrun's, SLURM's) end through the interpreter's
        # exit: destroy the group before it finalises. Lightning registers this for NCCL only.
        atexit.register(destroy_process_group_if_initialized)

    def configure_ddp(self) -> None:
        _sync_module_states(self.model)  # identical initial weights and buffers on every rank

    def post_backward(self, closure_loss: Tensor) -> None:
        if self.world_size > 1:
            average_gradients(self.lightning_module.parameters(), self.world_size)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        output = super().training_step(*args, **kwargs)
        # After the whole step: during it, autograd may still hold the buffers (BatchNorm saves its
        # running statistics for backward), and changing them in place would break G's backward.
        if self.world_size > 1:
            average_buffers(self.lightning_module, self.world_size)
        return output

    def on_train_end(self) -> None:
        super().on_train_end()
        if self.world_size > 1:
            check_replicas_in_sync(self.lightning_module, self.root_device)


def check_data_parallel(trainer: pl.Trainer, in_multirun: bool) -> None:
    """Raises ConfigError, before any work, for multi-process set-ups that cannot train a ganlab GAN:
    another strategy (plain DDP crashes on the parameters a GAN step leaves unused, others are
    untested), or processes started by re-running train.py inside a Hydra multirun."""
    strategy = trainer.strategy
    processes = trainer.num_devices * trainer.num_nodes
    if processes < 2:
        return
    if not isinstance(strategy, GANDDPStrategy):
        raise ConfigError(
            f"trainer.devices={trainer.num_devices} x trainer.num_nodes={trainer.num_nodes} processes with "
            f"strategy {type(strategy).__name__}: ganlab trains on several processes only with "
            "ganlab.distributed.GANDDPStrategy. Use trainer=ddp (GPUs), trainer=ddp_cpu (CPU), or trainer.devices=1.")
    if getattr(strategy, "_layer_sync", None) is not None and strategy.root_device.type == "cpu":
        raise ConfigError("trainer.sync_batchnorm=true needs GPUs: PyTorch's SyncBatchNorm does not run on the "
                          "CPU. Set trainer.sync_batchnorm=false.")
    externally_started = strategy.cluster_environment is not None and \
        strategy.cluster_environment.creates_processes_externally  # srun, torchrun
    if in_multirun and strategy._start_method == "popen" and not externally_started:
        raise ConfigError(
            "trainer.strategy.start_method=popen cannot run inside a Hydra multirun (-m): it starts the other "
            "ranks by re-running train.py with the whole sweep's arguments. Use trainer=ddp_spawn (or "
            "trainer.strategy.start_method=spawn), or the submitit launcher with one SLURM task per GPU.")
