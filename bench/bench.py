"""Training throughput: a plain PyTorch loop (a) against ganlab's training path (b).

In one process, on one device, for each case / precision / batch size / data path, runs (a) and
(b) on identical networks, loss, optimiser settings and data, in lockstep (lockstep.py): inside
one training run of (b), short timed segments of each side alternate (a, b, a, b, ...), so a drift
in the machine's speed reaches both alike. Prints one markdown row per setting: generator
iterations/s of each side, real images/s (batch x D steps per G step), b/a (the total time of
(a) over that of (b) for the same iterations; in brackets the quartiles of the segments' ratios)
and the peak device memory of each side (CUDA only, each from a short run of its own).

    python bench/bench.py                       # CUDA if present: every case at full size
    python bench/bench.py --device cpu --width 16 --segments 10 --batch-sizes 64
    make bench                                  # the CPU-sized run (a minute or two)

`--data resident`: the dataset lives on the device; (a) cuts batches there, (b) uses
`on_device=True` of ganlab's InMemoryDataModule. `--data loader`: both take batches from a
DataLoader in the training process and copy them to the device. See bench/README.md.
"""
from __future__ import annotations

import argparse
import copy
import gc
import logging
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402


import ganlab_run  # noqa: E402
import lockstep  # noqa: E402
from cases import CASES, Case, SyntheticImages, build_networks  # noqa: E402
from plain_loop import PlainLoop, loader_batches, resident_batches  # noqa: E402


@dataclass
class Setting:
    case: Case
    precision: str
    batch_size: int
    data: str  # resident | loader


def _reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def plain_loop(setting: Setting, networks, images: torch.Tensor, device: torch.device, args) -> PlainLoop:
    """(a) on its own copies of the networks."""
    generator, discriminator = (copy.deepcopy(n).to(device) for n in networks)
    if setting.data == "resident":
        batches = resident_batches(images, setting.batch_size, seed=args.seed)
    else:
        batches = loader_batches(images, setting.batch_size, device, seed=args.seed)
    return PlainLoop(generator, discriminator, setting.case, batches, setting.precision, args.optimizer_options)


def ganlab_module(setting: Setting, networks, datamodule, iterations: int, args) -> pl.LightningModule:
    """(b) on its own copies of the networks: ganlab's GANModule, or with `--b lightning` the plain
    loop's iteration in a minimal LightningModule (ganlab_run.LightningPlainLoop)."""
    if args.b != "ganlab":
        loop = plain_loop(setting, networks, datamodule.train_dataset.images, torch.device("cpu"), args)
        return ganlab_run.LightningPlainLoop(loop, iterations, wrapped=args.b == "lightning")
    generator, discriminator = (copy.deepcopy(n) for n in networks)
    return ganlab_run.build_module(generator, discriminator, setting.case, iterations,
                                   optimizer_options=args.optimizer_options, detect_divergence=args.detect_divergence)


def peak_memory(setting: Setting, networks, datamodule, device: torch.device, iterations: int,
                args) -> tuple[int, int] | None:
    """CUDA: the peak memory of (a) and of (b), each measured in a short run of its own (in the timed
    run both sides' networks are on the device at once); None on the CPU."""
    if device.type != "cuda":
        return None
    _reset_memory(device)
    plain = plain_loop(setting, networks, datamodule.train_dataset.images, device, args)
    plain.run(iterations)
    lockstep.synchronize(device)
    peak_a = torch.cuda.max_memory_allocated(device)
    del plain
    _reset_memory(device)
    ganlab_run.fit(ganlab_module(setting, networks, datamodule, iterations, args), datamodule, device, setting.precision)
    lockstep.synchronize(device)
    return peak_a, torch.cuda.max_memory_allocated(device)


def run_setting(setting: Setting, device: torch.device, args) -> dict[str, Any]:
    datamodule = SyntheticImages(batch_size=setting.batch_size, batches_per_iteration=setting.case.d_steps_per_g_step,
                                 num_workers=0, pin_memory=True, seed=args.seed,
                                 on_device=setting.data == "resident", num_images=args.num_images,
                                 image_size=args.image_size, channels=args.channels)
    dataset = datamodule.train_dataset
    if setting.data == "resident":
        dataset.to(device)  # what on_device does in train_dataloader(); both sides share this one copy
    networks = build_networks(setting.case, datamodule.image_shape, width=args.width, seed=args.seed)
    every_n = max(1, round(args.segment_steps / (setting.case.d_steps_per_g_step + 1)))
    plain = plain_loop(setting, networks, dataset.images, device, args)
    timer = lockstep.Lockstep(plain.run, args.warmup, every_n, args.segments, device, args.clock)
    _reset_memory(device)
    ganlab_run.fit(ganlab_module(setting, networks, datamodule, timer.iterations, args), datamodule, device, setting.precision,
                   callbacks=[timer], progress_bar=args.progress_bar)
    del plain
    peak = peak_memory(setting, networks, datamodule, device, args.warmup + every_n, args)
    a_seconds, b_seconds = sum(timer.plain_seconds), sum(timer.ganlab_seconds)
    iterations = every_n * args.segments
    ratios = sorted(a / b for a, b in zip(timer.plain_seconds, timer.ganlab_seconds))  # each segment's b/a
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    images_per_iteration = setting.batch_size * setting.case.d_steps_per_g_step
    return {"case": setting.case.name, "precision": setting.precision, "batch": setting.batch_size,
            "data": setting.data, "a": iterations / a_seconds, "b": iterations / b_seconds,
            "ratio": a_seconds / b_seconds, "ratio_range": (quartiles[0], quartiles[-1]),
            "a_images": iterations / a_seconds * images_per_iteration,
            "b_images": iterations / b_seconds * images_per_iteration,
            "peak_a": peak[0] if peak else None, "peak_b": peak[1] if peak else None}


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def format_row(row: dict[str, Any]) -> str:
    low, high = row["ratio_range"]
    memory = "-" if row["peak_a"] is None else f"{row['peak_b'] / row['peak_a']:.2f}"
    return (f"| {row['case']} | {row['precision']} | {row['batch']} | {row['data']} | {row['a']:.1f} | {row['b']:.1f} "
            f"| **{row['ratio']:.2f}** ({low:.2f}-{high:.2f}) | {row['a_images']:.0f} | {row['b_images']:.0f} "
            f"| {_mib(row['peak_a'])} | {_mib(row['peak_b'])} | {memory} |")


TABLE_HEADER = ("| case | precision | batch | data | (a) plain it/s | (b) ganlab it/s | b/a (range) "
                "| (a) real img/s | (b) real img/s | (a) peak MiB | (b) peak MiB | memory b/a |\n"
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def describe(device: torch.device, args) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    if device.type == "cpu":
        name += f", {torch.get_num_threads()} threads"
    return (f"device: {device.type} ({name}); torch {torch.__version__}, pytorch_lightning {pl.__version__}, "
            f"python {platform.python_version()}\n"
            f"networks: DCGAN {args.channels}x{args.image_size}x{args.image_size}, width {args.width}, latent 100; "
            f"{args.warmup} warm-up generator iterations each, then {args.segments} timed segments of each side in "
            f"lockstep (a, b, a, b, ...), each about {args.segment_steps} optimiser steps (b/a: total time of (a) / "
            f"total time of (b); in brackets the quartiles of the segments' ratios), {args.clock_name} clock; "
            f"(b): {B_SIDES[args.b]}, TensorBoard logger, no progress bar"
            f"{' (on)' if args.progress_bar else ''}, detect_divergence={args.detect_divergence}, "
            f"Adam options {args.optimizer_options or 'default'}\n"
            f"command: python {' '.join(sys.argv)}")


B_SIDES = {"ganlab": "ganlab's GANModule in a Lightning Trainer",
           "lightning": "the plain loop's iteration as a minimal LightningModule (manual_backward, LightningOptimizer)",
           "lightning-raw": "the plain loop's iteration as a minimal LightningModule with raw backward and optimisers"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=["dcgan", "wgan_gp"])
    parser.add_argument("--precisions", nargs="+", choices=["32-true", "bf16-mixed"], default=["32-true", "bf16-mixed"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--data", nargs="+", choices=["resident", "loader"], default=["resident", "loader"])
    parser.add_argument("--segments", type=int, default=None,
                        help="timed segments of each side, alternating a, b, a, b, ... (cuda 10, cpu 30)")
    parser.add_argument("--segment-steps", type=int, default=None,
                        help="optimiser steps per segment (cuda 400, cpu 20): generator iterations per segment = "
                             "round(steps / (D steps per G step + 1))")
    parser.add_argument("--warmup", type=int, default=None, help="untimed generator iterations first (cuda 50, cpu 3)")
    parser.add_argument("--width", type=int, default=64, help="DCGAN width of G and D (64 as in conf/model/dcgan.yaml)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--num-images", type=int, default=50_000, help="dataset size (CIFAR-10: 50,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-detect-divergence", dest="detect_divergence", action="store_false",
                        help="(b) with detect_divergence=False (no per-step finiteness check)")
    parser.add_argument("--adam", choices=["default", "foreach", "fused"], default="default",
                        help="Adam implementation, on both sides")
    parser.add_argument("--b", choices=sorted(B_SIDES), default="ganlab",
                        help="what (b) is: ganlab's training path; (lightning) the plain loop's iteration in a minimal "
                             "LightningModule, the share of (b)'s cost that is Lightning's; (lightning-raw) the same with "
                             "raw backward and optimisers, the cost of Lightning's per-batch loop alone")
    parser.add_argument("--progress-bar", action="store_true", help="(b) with ganlab's progress bar")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time; cpu: this process's CPU time (steadier on a shared CPU)")
    args = parser.parse_args(argv)
    cpu = args.device == "cpu"
    args.segments = args.segments or (30 if cpu else 10)
    args.segment_steps = args.segment_steps or (20 if cpu else 400)
    args.warmup = args.warmup if args.warmup is not None else (3 if cpu else 50)
    if args.segments < 1 or args.segment_steps < 1 or args.warmup < 1:
        parser.error("--segments, --segment-steps and --warmup must be >= 1")
    args.optimizer_options = {} if args.adam == "default" else {args.adam: True}
    if args.clock == "cpu" and args.device == "cuda":
        parser.error("--clock cpu measures CPU work; on CUDA use the wall clock")
    args.clock_name = args.clock
    args.clock = time.process_time if args.clock == "cpu" else time.perf_counter
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # "GPU available", "Using bfloat16 AMP"...
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # what a Lightning Trainer leaves it at by default
    print(describe(device, args), flush=True)
    print(TABLE_HEADER, flush=True)
    for case in args.cases:
        for precision in args.precisions:
            for batch_size in args.batch_sizes:
                for data in args.data:
                    setting = Setting(CASES[case], precision, batch_size, data)
                    print(format_row(run_setting(setting, device, args)), flush=True)


if __name__ == "__main__":
    main()
