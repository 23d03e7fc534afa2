"""The 2-D reproductions on the CPU, written to results/ as data:

- `pacgan_table1`: PacGAN's Table 1 (Lin et al. 2018): GAN, PacGAN2, PacGAN4 on the ring and the grid
  (experiment=pacgan_ring / pacgan_grid, +pacgan_row=gan / pacgan2 / pacgan4);
- `unrolled_ring`: Unrolled GAN's ring (Metz et al. 2017, Figure 1): experiment=unrolled_ring (the
  paper's networks, D unrolled k = 10 steps) beside the plain GAN (the same preset with
  unrolled.steps=0) at the same budget, with checkpoints and pictures along the way.

Every run is `train.py` with one torch thread under `nice -n 10`; `--workers` runs go side by side,
trial 0 of every row first, then trial 1, and so on, so a cut-short session still has whole trials
of every row. Per trial, `results/<benchmark>.jsonl` gets the final modes, high-quality share and
reverse KL (the paper's figure beside each) and the run's CPU seconds; the evaluations along the
way (every `callbacks.metrics.every_n` iterations) go to `results/<benchmark>_trajectory.jsonl`
with `budget` = the iteration evaluated.

    python bench/reproduce_2d.py --table-iterations 4000 --unrolled-iterations 10000 --trials 3 --workers 2

`--continue-from N` trains each trial on from the checkpoint of its finished N-iteration run (the same
row and seed, in `--runs`) instead of from scratch: with `--table-iterations 60000 --continue-from 30000`,
trial s goes on from iteration 30,000 of its 30,000-iteration run. Its trajectory is the earlier run's
evaluations up to N followed by its own; its CPU seconds count only the continuation.

Each run gets niceness 10 (not more, however this script was started). The picture sequence of the unrolled ring's runs:
`python bench/mixture_sequence.py <runs>/unrolled_ring/ring_gan_seed0_10000 ... --out sequence.png`.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from mode_table import PUBLISHED  # noqa: E402  (modes, s.e.), (high-quality %, s.e.), (reverse KL, s.e.)

ROW_NAMES = {"gan": "GAN", "pacgan2": "PacGAN2", "pacgan4": "PacGAN4", "unrolled": "Unrolled GAN (k=10)"}
# The unrolled ring's rows: the preset and the row's overrides (the plain GAN: no look-ahead)
UNROLLED_ROWS = {"unrolled": ("experiment=unrolled_ring",), "gan": ("experiment=unrolled_ring", "unrolled.steps=0")}
PAPER_TABLE = {
    "pacgan_table1": "Lin et al. 2018 (PacGAN), Table 1: mean of 10 trials after 400 epochs (~400k iterations)",
    "unrolled_ring": "Metz et al. 2017 (Unrolled GAN), Figure 1, pictures only (no published figures): the "
                     "unrolled G (k=10) covers the 8 modes by 25k steps, the plain GAN holds one mode at a time",
}
METRICS = ("modes", "high_quality", "reverse_kl")
WRITING = threading.Lock()  # one thread appends to results/ at a time


@dataclass(frozen=True)
class Job:
    benchmark: str
    data: str  # ring / grid
    row: str  # a conf/pacgan_row/ name
    seed: int
    iterations: int
    overrides: tuple[str, ...]  # besides experiment, row, seed and iterations
    continues: int = 0  # the iterations of the finished run of the same row and seed this one goes on from (0: none)

    @property
    def setting(self) -> str:
        networks = " (Metz networks)" if self.benchmark == "unrolled_ring" else ""
        return f"{self.data}{networks} / {ROW_NAMES[self.row]}"

    @property
    def name(self) -> str:
        return self._name(self.iterations)

    @property
    def source(self) -> str | None:
        """The name of the run this one continues (None: it starts from scratch)."""
        return self._name(self.continues) if self.continues else None

    def _name(self, iterations: int) -> str:
        return f"{self.benchmark}/{self.data}_{self.row}_seed{self.seed}_{iterations}"

    @property
    def preset(self) -> tuple[str, ...]:
        """The preset and the row's overrides."""
        if self.benchmark == "unrolled_ring":
            return UNROLLED_ROWS[self.row]
        return f"experiment=pacgan_{self.data}", f"+pacgan_row={self.row}"

    def arguments(self) -> list[str]:
        return [*self.preset, f"seed={self.seed}", f"iterations={self.iterations}", *self.overrides]

    def paper(self, metric: str) -> dict[str, float | None]:
        """The published figure of `metric` and its standard error (the record's `paper`, `paper_se`)."""
        if self.benchmark == "unrolled_ring":
            return {"paper": None, "paper_se": None}  # the paper shows pictures, no figures
        (modes, modes_se), (quality, quality_se), (kl, kl_se) = PUBLISHED[self.data][self.row]
        figure, se = {"modes": (modes, modes_se), "high_quality": (quality / 100, quality_se / 100),
                      "reverse_kl": (kl, kl_se)}[metric]
        return {"paper": figure, "paper_se": se}


def checkpoint(runs: Path, name: str) -> Path:
    return runs / name / "checkpoints" / "last.ckpt"


def jobs(args: argparse.Namespace) -> list[Job]:
    """Trial-major order: trial t of every row before trial t + 1 of any."""
    table_every, unrolled_every, continues = args.table_every, args.unrolled_every, args.continue_from

    def resume(benchmark: str, data: str, row: str, seed: int) -> tuple[str, ...]:
        source = Job(benchmark, data, row, seed, continues, ()).name
        return (f"ckpt_path={checkpoint(args.runs, source)}",) if continues else ()

    out = []
    for seed in args.seeds if args.seeds is not None else range(args.trials):
        if args.unrolled_iterations:
            for row in ("unrolled", "gan"):
                out.append(Job("unrolled_ring", "ring", row, seed, args.unrolled_iterations, (
                    f"callbacks.metrics.every_n={unrolled_every}", f"callbacks.sample_grid.every_n={unrolled_every}",
                    f"callbacks.checkpoint.every_n={unrolled_every}", *resume("unrolled_ring", "ring", row, seed)),
                    continues))
        if args.table_iterations:
            for data in args.data:
                for row in args.rows:
                    out.append(Job("pacgan_table1", data, row, seed, args.table_iterations, (
                        f"callbacks.metrics.every_n={table_every}", f"callbacks.sample_grid.every_n={table_every}",
                        *resume("pacgan_table1", data, row, seed)), continues))
    return [job for job in out if not any(part in job.name for part in args.exclude)]


def trajectory(run_dir: Path, until: int | None = None) -> dict[int, dict[str, float]]:
    """{iteration: {metric: value}} of the run's TensorBoard scalars metrics/<metric> (up to `until`)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    points: dict[int, dict[str, float]] = {}
    for metric in METRICS:
        for event in events.Scalars(f"metrics/{metric}"):
            if until is None or event.step <= until:
                points.setdefault(event.step, {})[metric] = event.value
    return points


def command(job: Job, run_dir: Path) -> list[str]:
    """train.py for `job` into `run_dir`, at niceness 10 (not more, however this script was started)."""
    return ["nice", "-n", str(max(0, 10 - os.nice(0))), sys.executable, str(ROOT / "train.py"), *job.arguments(),
            "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"]


def run(job: Job, args: argparse.Namespace) -> None:
    run_dir = args.runs / job.name
    if (run_dir / "metrics.json").is_file() and args.skip_existing:
        print(f"skip {job.name}: done", flush=True)
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.time()
    with open(args.runs / f"{job.name.replace('/', '_')}.log", "w") as log:
        process = subprocess.Popen(command(job, run_dir), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    if status != 0:
        print(f"FAILED {job.name} (status {status}, see its log)", flush=True)
        return
    final = json.loads((run_dir / "metrics.json").read_text())
    shown = "python train.py " + " ".join(shlex.quote(a) for a in job.arguments())
    continued = {"continues": job.continues} if job.continues else {}
    common = dict(seed=job.seed, hardware="cpu (1 thread)", budget=job.iterations, command=shown, results_dir=args.results,
                  config={**dict(a.lstrip("+").split("=", 1) for a in job.preset), "row": job.row,
                          "iterations": job.iterations, **continued, "paper_table": PAPER_TABLE[job.benchmark]})
    earlier = trajectory(args.runs / job.source, until=job.continues) if job.source else {}
    with WRITING:
        write(job, final, cpu, {**earlier, **trajectory(run_dir)}, common)
    print(f"done {job.name}: {final['final/modes']:.0f} modes, {100 * final['final/high_quality']:.1f}% HQ, "
          f"rKL {final['final/reverse_kl']:.3f}; {cpu:.0f} CPU s, {time.time() - start:.0f} s wall", flush=True)


def write(job: Job, final: dict, cpu: float, points: dict[int, dict[str, float]], common: dict) -> None:
    from ganlab.results import record

    for metric in METRICS:
        record(job.benchmark, job.setting, metric, final[f"final/{metric}"], **job.paper(metric), **common)
    record(job.benchmark, job.setting, "cpu_seconds", cpu, **common)
    for step, values in sorted(points.items()):
        for metric, value in values.items():
            record(f"{job.benchmark}_trajectory", job.setting, metric, value,
                   **{**common, "budget": step, "config": {**common["config"], "evaluated_at": step}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table-iterations", type=int, default=4000, help="PacGAN's Table 1 budget (0: skip)")
    parser.add_argument("--unrolled-iterations", type=int, default=10000, help="the unrolled ring's budget (0: skip)")
    parser.add_argument("--table-every", type=int, default=500, help="iterations between evaluations (table)")
    parser.add_argument("--unrolled-every", type=int, default=2000,
                        help="iterations between evaluations, pictures and checkpoints (unrolled ring)")
    parser.add_argument("--trials", type=int, default=3, help="trials (seeds 0 .. N-1) per row")
    parser.add_argument("--seeds", type=int, nargs="+", help="these seeds instead of 0 .. trials - 1")
    parser.add_argument("--data", nargs="+", default=["ring", "grid"], choices=["ring", "grid"],
                        help="the table's mixtures, in this order")
    parser.add_argument("--rows", nargs="+", default=["gan", "pacgan2", "pacgan4"], choices=["gan", "pacgan2", "pacgan4"],
                        help="the table's rows, in this order")
    parser.add_argument("--exclude", nargs="*", default=[], help="leave out the runs whose name holds one of these")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--runs", type=Path, default=Path("outputs/reproduce_2d"), help="where the runs go")
    parser.add_argument("--results", type=Path, default=Path("results"), help="where results/*.jsonl go")
    parser.add_argument("--skip-existing", action="store_true", help="skip runs that finished (metrics.json)")
    parser.add_argument("--continue-from", type=int, default=0, metavar="N",
                        help="train each trial on from its finished N-iteration run's checkpoint (0: from scratch)")
    args = parser.parse_args(argv)
    todo = jobs(args)
    if args.continue_from:
        longer = [b for b in (args.table_iterations, args.unrolled_iterations) if b and b <= args.continue_from]
        if longer:
            parser.error(f"--continue-from {args.continue_from} must be below the budget it continues to ({longer[0]})")
        missing = [checkpoint(args.runs, job.source) for job in todo if not checkpoint(args.runs, job.source).is_file()]
        if missing:
            parser.error(f"--continue-from {args.continue_from}: no checkpoint {missing[0]} ({len(missing)} runs lack "
                         f"theirs): run those trials to {args.continue_from} iterations first, or choose other --seeds")
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "pacgan_table1").mkdir(exist_ok=True)
    (args.runs / "unrolled_ring").mkdir(exist_ok=True)
    with ThreadPoolExecutor(args.workers) as pool:
        for future in [pool.submit(run, job, args) for job in todo]:
            future.result()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
