"""Training throughput: a plain PyTorch loop (a) against ganlab's training path (b).

In one process, on one device, for each case / precision / batch size / data path, runs (a) and
(b) on identical networks, loss, optimiser settings and data, in lockstep (lockstep.py): inside
one training run of (b), short timed segments of each side alternate (a, b, a, b, ...), so a drift
in the machine's speed reaches both alike. Prints one markdown row per setting: generator
iterations/s of each side, real images/s (batch x D steps per G step), b/a (the total time of
(a) over that of (b) for the same iterations; in brackets the quartiles of the segments' ratios)
and the peak device memory of each side (CUDA only, each from a short run of its own).

(b) is ganlab's training path, or (`--b lightning`) the plain loop's iteration in a minimal
LightningModule: the ceiling Lightning leaves any module. `--b ganlab lightning` runs both for
every setting, back to back, and ends with a table of ganlab's b/a over the minimal module's.

    python bench/bench.py                       # CUDA if present: every case at full size
    python bench/bench.py --device cpu --width 16 --segments 10 --batch-sizes 64
    make bench                                  # the CPU-sized run, both (b) sides (a few minutes)

`--data resident`: the dataset lives on the device; (a) cuts batches there, (b) uses
`on_device=True` of ganlab's InMemoryDataModule. `--data loader`: both take batches from a
DataLoader in the training process and copy them to the device. See bench/README.md.
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
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
from ganlab.results import hardware_class, record  # noqa: E402
from cases import CASES, Case, build_datamodule, build_networks  # noqa: E402
from plain_loop import PlainLoop, loader_batches, resident_batches  # noqa: E402


TARGET = 0.97  # ganlab's b/a over the minimal LightningModule's, on every row


@dataclass
class Setting:
    case: Case
    precision: str
    batch_size: int
    data: str  # resident | loader
    side: str = "ganlab"  # what (b) is: a key of B_SIDES


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
    if setting.side != "ganlab":
        loop = plain_loop(setting, networks, datamodule.train_dataset.images, torch.device("cpu"), args)
        return ganlab_run.LightningPlainLoop(loop, iterations, wrapped=setting.side == "lightning")
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
    datamodule = build_datamodule(setting.case, setting.batch_size, seed=args.seed, on_device=setting.data == "resident",
                                  num_images=args.num_images, image_size=args.image_size, channels=args.channels)
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
            "data": setting.data, "side": setting.side, "iterations": iterations,
            "a": iterations / a_seconds, "b": iterations / b_seconds,
            "ratio": a_seconds / b_seconds, "ratio_range": (quartiles[0], quartiles[-1]),
            "a_images": iterations / a_seconds * images_per_iteration,
            "b_images": iterations / b_seconds * images_per_iteration,
            "peak_a": peak[0] if peak else None, "peak_b": peak[1] if peak else None}


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def format_row(row: dict[str, Any]) -> str:
    low, high = row["ratio_range"]
    memory = "-" if row["peak_a"] is None else f"{row['peak_b'] / row['peak_a']:.2f}"
    return (f"| {row['case']} | {row['precision']} | {row['batch']} | {row['data']} | {row['side']} "
            f"| {row['a']:.1f} | {row['b']:.1f} "
            f"| **{row['ratio']:.2f}** ({low:.2f}-{high:.2f}) | {row['a_images']:.0f} | {row['b_images']:.0f} "
            f"| {_mib(row['peak_a'])} | {_mib(row['peak_b'])} | {memory} |")


TABLE_HEADER = ("| case | precision | batch | data | (b) | (a) plain it/s | (b) it/s | b/a (range) "
                "| (a) real img/s | (b) real img/s | (a) peak MiB | (b) peak MiB | memory b/a |\n"
                "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

SUMMARY_HEADER = ("| case | precision | batch | data | ganlab b/a (range) | minimal LightningModule b/a (range) "
                  f"| ganlab / minimal (target >= {TARGET}) |\n"
                  "| --- | --- | --- | --- | ---: | ---: | ---: |")


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per setting that has both a ganlab row and a minimal-LightningModule row: both b/a and
    their ratio (each b/a is measured against (a) in lockstep, so the ratio holds under a varying load)."""
    by_setting: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_setting.setdefault((row["case"], row["precision"], row["batch"], row["data"]), {})[row["side"]] = row
    return [{"setting": key, "ganlab": sides["ganlab"], "lightning": sides["lightning"],
             "ratio": sides["ganlab"]["ratio"] / sides["lightning"]["ratio"]}
            for key, sides in by_setting.items() if {"ganlab", "lightning"} <= sides.keys()]


def format_summary(entry: dict[str, Any]) -> str:
    case, precision, batch, data = entry["setting"]
    ganlab, lightning = entry["ganlab"], entry["lightning"]
    verdict = "met" if entry["ratio"] >= TARGET else "**missed**"
    return (f"| {case} | {precision} | {batch} | {data} | {ganlab['ratio']:.2f} ({ganlab['ratio_range'][0]:.2f}-"
            f"{ganlab['ratio_range'][1]:.2f}) | {lightning['ratio']:.2f} ({lightning['ratio_range'][0]:.2f}-"
            f"{lightning['ratio_range'][1]:.2f}) | **{entry['ratio']:.3f}** {verdict} |")


SIDE_LABELS = {"ganlab": "ganlab", "lightning": "minimal LightningModule",
               "lightning-raw": "minimal LightningModule, raw backward"}


def record_row(row: dict[str, Any], device: torch.device, args) -> None:
    """The row's figures as results records (`--record BENCHMARK`: results/<benchmark>.jsonl), one
    setting per case / precision / batch / data: `b/a <side>` (the quartiles of the segments' ratios
    in `config.quartiles`), `(b) it/s <side>`, `(a) it/s`, and the peak memory on CUDA."""
    label = SIDE_LABELS[row["side"]]
    config = {k: row[k] for k in ("case", "precision", "batch", "data", "side")}
    config.update(quartiles=list(row["ratio_range"]), width=args.width, image_size=args.image_size,
                  channels=args.channels, segments=args.segments, segment_steps=args.segment_steps,
                  warmup=args.warmup, clock=args.clock_name, threads=args.threads)
    metrics = {f"b/a {label}": row["ratio"], f"(b) it/s {label}": row["b"], "(a) it/s": row["a"]}
    if row["peak_a"] is not None:
        metrics.update({"(a) peak MiB": row["peak_a"] / 2**20, f"(b) peak MiB {label}": row["peak_b"] / 2**20})
    setting = f"{row['case']} / {row['precision']} / batch {row['batch']} / {row['data']}"
    for metric, value in metrics.items():
        record(args.record, setting, metric, value, seed=args.seed, budget=row["iterations"], command=args.command,
               config=config, hardware=hardware_class(str(device)), results_dir=args.results_dir)


def record_summary(entry: dict[str, Any], device: torch.device, args) -> None:
    case, precision, batch, data = entry["setting"]
    record(args.record, f"{case} / {precision} / batch {batch} / {data}", "ganlab / minimal LightningModule",
           entry["ratio"], seed=args.seed, budget=entry["ganlab"]["iterations"], command=args.command,
           config={"case": case, "precision": precision, "batch": batch, "data": data, "target": TARGET},
           hardware=hardware_class(str(device)), results_dir=args.results_dir)


def describe(device: torch.device, args) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    if device.type == "cpu":
        name += f", {torch.get_num_threads()} threads"
    return (f"device: {device.type} ({name}); torch {torch.__version__}, pytorch_lightning {pl.__version__}, "
            f"python {platform.python_version()}\n"
            f"networks: {', '.join(describe_case(CASES[name], args) for name in args.cases)}; "
            f"{args.warmup} warm-up generator iterations each, then {args.segments} timed segments of each side in "
            f"lockstep (a, b, a, b, ...), each about {args.segment_steps} optimiser steps (b/a: total time of (a) / "
            f"total time of (b); in brackets the quartiles of the segments' ratios), {args.clock_name} clock; "
            f"(b): {' | '.join(B_SIDES[side] for side in args.b)}; TensorBoard logger, no progress bar"
            f"{' (on)' if args.progress_bar else ''}, detect_divergence={args.detect_divergence}, "
            f"Adam options {args.optimizer_options or 'default'}\n"
            f"command: python {' '.join(sys.argv)}")


def describe_case(case: Case, args) -> str:
    if case.points:
        return f"{case.name}: PacGAN's MLPs on 2-D points, latent {case.latent_dim}"
    return f"{case.name}: DCGAN {args.channels}x{args.image_size}x{args.image_size}, width {args.width}, latent 100"


B_SIDES = {"ganlab": "ganlab's GANModule in a Lightning Trainer",
           "lightning": "the plain loop's iteration as a minimal LightningModule (manual_backward, LightningOptimizer)",
           "lightning-raw": "the plain loop's iteration as a minimal LightningModule with raw backward and optimisers"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=["dcgan", "wgan_gp"])
    parser.add_argument("--precisions", nargs="+", choices=["32-true", "bf16-mixed"], default=["32-true", "bf16-mixed"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256],
                        help="batch sizes of the image cases (pacgan: its own, 100)")
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
    parser.add_argument("--b", nargs="+", choices=sorted(B_SIDES), default=["ganlab"],
                        help="what (b) is, one run per side and setting: ganlab's training path; (lightning) the plain "
                             "loop's iteration in a minimal LightningModule, the share of (b)'s cost that is "
                             "Lightning's; (lightning-raw) the same with raw backward and optimisers, the cost of "
                             "Lightning's per-batch loop alone. With ganlab and lightning: a table of their ratio")
    parser.add_argument("--record", metavar="BENCHMARK", default=None,
                        help="also write every figure as a results record to <results-dir>/BENCHMARK.jsonl")
    parser.add_argument("--results-dir", default="results", help="where --record writes (default: results)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also append every row's raw figures to PATH, one JSON object per line")
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
    args.command = "python " + " ".join(["bench/bench.py", *(sys.argv[1:] if argv is None else argv)])
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
    rows = []
    for case in args.cases:
        for precision in args.precisions:
            for batch_size in [CASES[case].batch_size] if CASES[case].batch_size else args.batch_sizes:
                for data in args.data:
                    for side in args.b:  # back to back: the sides of one setting meet the same machine
                        row = run_setting(Setting(CASES[case], precision, batch_size, data, side), device, args)
                        rows.append(row)
                        print(format_row(row), flush=True)
                        if args.json:
                            with open(args.json, "a", encoding="utf-8") as out:
                                out.write(json.dumps(row) + "\n")
                        if args.record:
                            record_row(row, device, args)
    summary = summary_rows(rows)
    if summary:
        print(f"\nganlab's b/a over the minimal LightningModule's (target: >= {TARGET} on every row)\n", flush=True)
        print(SUMMARY_HEADER)
        for entry in summary:
            print(format_summary(entry), flush=True)
            if args.record:
                record_summary(entry, device, args)


if __name__ == "__main__":
    main()
