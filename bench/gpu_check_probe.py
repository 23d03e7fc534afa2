"""What `gpu_check.py` runs inside its processes.

`python bench/gpu_check_probe.py DEVICE` prints the versions of Python, torch, Lightning, CUDA and
cuDNN and the GPUs with their memory, as one JSON line (the check's first step).

`CheckProbe`, a callback the check adds to the train.py runs it starts (`+callbacks.probe._target_=
gpu_check_probe.CheckProbe`, with bench/ on PYTHONPATH), writes what the check reports as JSON.

Per run (one file per rank, `<path>.rank<N>.json`): the precision the Trainer actually used
(Lightning runs `16-mixed` as `bf16-mixed` on a CPU), the accelerator and device count, the
iterations done, every logged scalar's largest magnitude and the names of any that were NaN or
infinite at some iteration (with `log_every_n=1` every term is logged every iteration), and under
float16 mixed precision the GradScaler's loss scale (first, smallest, last, and the iterations at
which it fell: a step skipped for an overflow), and how many floating-point weight and buffer
tensors training changed. With `save_weights`, each rank also saves its weights and buffers
(`<path>.rank<N>.pt`) for the data-parallel comparison.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch


def versions(device: str) -> dict[str, Any]:
    """The software and the devices; `hardware` is ganlab.results.hardware_class(device)."""
    from ganlab.results import hardware_class

    cuda = torch.cuda.is_available()
    gpus = [{"name": torch.cuda.get_device_name(i),
             "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
             "capability": ".".join(map(str, torch.cuda.get_device_capability(i)))}
            for i in range(torch.cuda.device_count())] if cuda else []
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": pl.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None, "gpus": gpus,
            "bf16_supported": torch.cuda.is_bf16_supported() if cuda else None,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "hardware": hardware_class(device)}


class CheckProbe(pl.Callback):
    def __init__(self, path: str, save_weights: bool = False):
        self.path = Path(path)
        self.save_weights = save_weights
        self.largest: dict[str, float] = {}
        self.nonfinite: dict[str, int] = {}  # name -> first generator iteration it was NaN or Inf
        self.scales: list[float] = []  # the loss scale after each iteration (float16 only)
        self.scale_drops: list[int] = []  # iterations after which the scale had fallen
        self.iterations = 0
        self.initial: dict[str, torch.Tensor] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        self.initial = {k: v.detach().clone() for k, v in pl_module.state_dict().items() if v.is_floating_point()}

    def _scaler(self, trainer: pl.Trainer):
        return getattr(trainer.precision_plugin, "scaler", None)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.iterations = int(getattr(pl_module, "g_iter", batch_idx + 1))
        for name, value in trainer.callback_metrics.items():
            number = float(value)
            if not math.isfinite(number):
                self.nonfinite.setdefault(name, self.iterations)
            else:
                self.largest[name] = max(self.largest.get(name, 0.0), abs(number))
        scaler = self._scaler(trainer)
        if scaler is not None and scaler.is_enabled():
            scale = float(scaler.get_scale())
            if self.scales and scale < self.scales[-1]:
                self.scale_drops.append(self.iterations)
            self.scales.append(scale)

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, error: BaseException | None = None) -> None:
        rank = trainer.global_rank
        state = pl_module.state_dict()
        report: dict[str, Any] = {
            "rank": rank, "world_size": trainer.world_size, "precision": str(trainer.precision),
            "accelerator": type(trainer.accelerator).__name__, "device": str(pl_module.device),
            "iterations": self.iterations, "largest": self.largest, "nonfinite": self.nonfinite,
            "changed_tensors": sum(not torch.equal(v, state[k]) for k, v in self.initial.items()),
            "float_tensors": len(self.initial),
            "loss_scale": ({"first": self.scales[0], "min": min(self.scales), "last": self.scales[-1],
                            "drops_at": self.scale_drops} if self.scales else None),
            "error": None if error is None else f"{type(error).__name__}: {error}",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{self.path}.rank{rank}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        if self.save_weights and error is None:
            torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, f"{self.path}.rank{rank}.pt")

    def on_train_end(self, trainer, pl_module) -> None:
        self._write(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._write(trainer, pl_module, exception)


if __name__ == "__main__":
    print("VERSIONS " + json.dumps(versions(sys.argv[1] if len(sys.argv) > 1 else "cpu")), flush=True)
