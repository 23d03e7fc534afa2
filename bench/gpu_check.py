"""Does ganlab work on this machine, and how fast is it? One command, about 8 minutes on a GPU.

    python bench/gpu_check.py --out gpu-check            # CUDA: the full check
    python bench/gpu_check.py --out gpu-check --device cpu  # the same steps at tiny sizes (~2 minutes)
    make gpu-check [DEVICE=cpu] [DATA_ROOT=/datasets]

Runs, in order, each step in processes of its own under its own time limit (a step that fails or
runs out of time is reported and the next one runs):

1. versions: Python, torch, Lightning, CUDA, cuDNN, the GPUs with their memory.
2. bench: bench/bench.py in lockstep, ganlab and the minimal LightningModule against the plain loop:
   DCGAN 32x32 at batch 64 and 256, WGAN-GP at 64, fp32 and bf16-mixed, resident and loader data
   (b/a, ganlab / minimal, peak memory).
3. precision: train.py runs of WGAN-GP and of the non-saturating loss with R1, in 16-mixed and
   bf16-mixed, every logged term checked at every iteration, the float16 loss scale reported.
4. ddp: with two or more GPUs, `trainer=ddp` on all of them (NCCL) for a few iterations; every
   rank must end with identical weights and buffers, changed by training (the gradients were
   averaged). On `--device cpu`: `trainer=ddp_cpu`, two gloo processes. With one GPU: skipped.
5. quality: `experiment=cifar10_dcgan` for a short budget on CIFAR-10 (`--data-root` holding
   cifar-10-batches-py/, or cifar10-train/<class>/*.jpg), else MNIST (MNIST/raw/), else
   scikit-learn's digits, scored at the end by the classifier metric (callbacks/metrics=classifier).

Writes `<out>/report.md` (what a person reads), `<out>/check.json` (every step's figures),
`<out>/logs/` (each process's output), `<out>/runs/` (the train.py runs) and appends the figures
to `results/gpu_check.jsonl` (ganlab.results records, the machine class in `hardware`).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
STEPS = ("versions", "bench", "precision", "ddp", "quality")
PROBE = "gpu_check_probe.CheckProbe"


@dataclass(frozen=True)
class Scale:
    """The sizes of one variant of the check: `full` on a GPU, `cpu` (about 2 minutes), `smoke` (the test's)."""

    limits: dict[str, int]  # seconds per step
    bench: list[list[str]]  # one bench.py call per entry (its own arguments)
    precision_iterations: int
    ddp_iterations: int
    quality_iterations: int
    quality_samples: int  # generated (and real) images per classifier evaluation
    train_size: list[str] = field(default_factory=list)  # overrides that shrink the train.py runs
    quality_size: list[str] = field(default_factory=list)
    precision_runs: tuple[tuple[str, str], ...] = tuple((recipe, precision) for recipe in ("wgan_gp", "r1")
                                                        for precision in ("16-mixed", "bf16-mixed"))


FULL_BENCH = ["--device", "cuda", "--precisions", "32-true", "bf16-mixed", "--data", "resident", "loader",
              "--b", "ganlab", "lightning", "--segments", "5", "--segment-steps", "60", "--warmup", "20"]
CPU_BENCH = ["--device", "cpu", "--threads", "1", "--clock", "cpu", "--width", "4", "--image-size", "16", "--channels",
             "1", "--num-images", "2000", "--precisions", "32-true", "bf16-mixed", "--data", "resident", "loader",
             "--b", "ganlab", "lightning", "--segments", "3", "--segment-steps", "10", "--warmup", "2"]
TINY_NETWORKS = ["model.generator.width=8", "model.discriminator.width=8", "data.batch_size=16"]

SCALES = {
    "full": Scale(limits={"versions": 60, "bench": 240, "precision": 110, "ddp": 90, "quality": 120},
                  bench=[[*FULL_BENCH, "--cases", "dcgan", "--batch-sizes", "64", "256"],
                         [*FULL_BENCH, "--cases", "wgan_gp", "--batch-sizes", "64"]],
                  precision_iterations=300, ddp_iterations=20, quality_iterations=2000, quality_samples=10000),
    "cpu": Scale(limits={"versions": 60, "bench": 180, "precision": 180, "ddp": 120, "quality": 180},
                 bench=[[*CPU_BENCH, "--cases", "dcgan", "--batch-sizes", "64", "256"],
                        [*CPU_BENCH, "--cases", "wgan_gp", "--batch-sizes", "64"]],
                 precision_iterations=30, ddp_iterations=4, quality_iterations=150, quality_samples=1000,
                 train_size=TINY_NETWORKS, quality_size=["model.generator.width=16", "model.discriminator.width=16",
                                                         "data.batch_size=32"]),
    "smoke": Scale(limits={"versions": 60, "bench": 90, "precision": 120, "ddp": 120, "quality": 120},
                   bench=[["--device", "cpu", "--threads", "1", "--clock", "cpu", "--width", "2", "--image-size", "8",
                           "--channels", "1", "--num-images", "64", "--precisions", "32-true", "--data", "resident",
                           "--b", "ganlab", "lightning", "--segments", "1", "--segment-steps", "2", "--warmup", "1",
                           "--cases", "dcgan", "--batch-sizes", "8"]],
                   precision_iterations=2, ddp_iterations=2, quality_iterations=2, quality_samples=100,
                   train_size=TINY_NETWORKS, quality_size=TINY_NETWORKS,
                   precision_runs=(("wgan_gp", "16-mixed"), ("r1", "bf16-mixed"))),
}


@dataclass
class StepResult:
    name: str
    status: str = "ok"  # ok | failed | timeout | skipped
    reason: str = ""  # why it failed or was skipped
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    markdown: str = ""  # the step's part of the report
    commands: list[str] = field(default_factory=list)


class StepFailed(Exception):
    """A step's own check failed (the message says what)."""


class Clock:
    """A step's time limit, shared by the processes the step starts."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


class TimedOut(Exception):
    pass


class Check:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out).resolve()
        self.scale = SCALES[args.scale]
        self.cuda = args.device == "cuda"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(BENCH),
                                                   *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.versions: dict[str, Any] = {}
        self.step_commands: list[str] = []

    # --- processes ---------------------------------------------------------------------------------
    def run(self, command: list[str], log_name: str, clock: Clock) -> subprocess.CompletedProcess:
        """Runs `command` in the repository root with its output in logs/<log_name>.log; on the step's
        deadline the process and its children (DDP ranks, DataLoader workers) are stopped."""
        self.step_commands.append(shlex.join(command))
        log_path = self.out / "logs" / f"{log_name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        left = clock.left()
        if left <= 0:
            raise TimedOut(f"no time left for {log_name} within the step's time limit")
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                raise TimedOut(f"{log_name} ran past the step's time limit") from None
        output = log_path.read_text(encoding="utf-8", errors="replace")
        return subprocess.CompletedProcess(command, process.returncode, output, "")

    def train(self, name: str, overrides: list[str], clock: Clock, save_weights: bool = False) -> dict[str, Any]:
        """One train.py run as a user types it, in runs/<name>; returns its metrics.json and the probe's
        reports per rank. Raises StepFailed when it fails."""
        run_dir = self.out / "runs" / name
        probe_path = self.out / "probe" / name
        extra = [f"+callbacks.probe._target_={PROBE}", f"+callbacks.probe.path={probe_path}",
                 f"+callbacks.probe.save_weights={str(save_weights).lower()}"]
        command = [sys.executable, "train.py", *overrides, "trainer.enable_progress_bar=false",
                   f"hydra.run.dir={run_dir}", *extra]
        result = self.run(command, name, clock)
        probes = {}
        for path in sorted(probe_path.parent.glob(f"{probe_path.name}.rank*.json")):
            report = json.loads(path.read_text(encoding="utf-8"))
            probes[report["rank"]] = report
        if result.returncode != 0:
            raise StepFailed(f"{name}: train.py exited with {result.returncode}: {last_error(result.stdout)}")
        metrics_file = run_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}
        return {"metrics": metrics, "probes": probes, "probe_path": probe_path}

    # --- data -------------------------------------------------------------------------------------
    def data_overrides(self) -> tuple[str, list[str]]:
        """The quality run's data: CIFAR-10 where --data-root has it, else MNIST, else digits."""
        root = Path(self.args.data_root).resolve() if self.args.data_root else None
        workers = str(min(8, os.cpu_count() or 1))
        if root is not None and (root / "cifar-10-batches-py").is_dir():
            return "CIFAR-10", ["data=cifar10", f"data.root={root}"]
        if root is not None and (root / "cifar10-train").is_dir():
            return "CIFAR-10 (image folder)", ["data=image_folder", f"data.root={root / 'cifar10-train'}",
                                               "data.image_size=32", f"data.num_workers={workers}"]
        if root is not None and (root / "MNIST" / "raw").is_dir():
            return "MNIST (no CIFAR-10 under --data-root)", ["data=mnist", f"data.root={root}", "data.image_size=32"]
        why = "no --data-root" if root is None else f"no CIFAR-10 or MNIST under {root}"
        return f"scikit-learn digits ({why})", ["data=digits", "data.image_size=32"]

    def trainer_overrides(self) -> list[str]:
        return ["trainer=gpu"] if self.cuda else ["trainer=cpu"]

    # --- the steps ----------------------------------------------------------------------------------
    def step_versions(self, clock: Clock) -> StepResult:
        device = "cuda:0" if self.cuda else "cpu"
        result = self.run([sys.executable, "bench/gpu_check_probe.py", device], "versions", clock)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith("VERSIONS ")), None)
        if result.returncode != 0 or line is None:
            raise StepFailed(f"could not read the versions: {last_error(result.stdout)}")
        self.versions = json.loads(line.removeprefix("VERSIONS "))
        v = self.versions
        if self.cuda and not v["gpus"]:
            raise StepFailed("--device cuda, but torch sees no CUDA device (torch.cuda.is_available() is False)")
        gpus = "\n".join(f"- GPU {i}: {g['name']}, {g['memory_gib']} GiB, compute capability {g['capability']}"
                         for i, g in enumerate(v["gpus"])) or "- no GPU visible"
        markdown = (f"- Python {v['python']}, torch {v['torch']}, Lightning {v['lightning']}, CUDA {v['cuda']}, "
                    f"cuDNN {v['cudnn']}, bf16 supported: {v['bf16_supported']}\n"
                    f"- CPU: {v['cpu']}, {v['cpu_count']} cores\n{gpus}")
        return StepResult("versions", figures=v, markdown=markdown)

    def step_bench(self, clock: Clock) -> StepResult:
        raw = self.out / "bench.jsonl"
        raw.unlink(missing_ok=True)
        tables, failures = [], []
        for i, arguments in enumerate(self.scale.bench):
            command = [sys.executable, "bench/bench.py", *arguments, "--json", str(raw), "--record", "gpu_check",
                       "--results-dir", str(self.args.results_dir)]
            try:
                result = self.run(command, f"bench_{i + 1}", clock)
            except TimedOut as timeout:  # the rows done so far are in bench.jsonl and the log
                failures.append(str(timeout))
                tables.append(table_lines((self.out / "logs" / f"bench_{i + 1}.log").read_text(errors="replace")))
                break
            tables.append(table_lines(result.stdout))
            if result.returncode != 0:
                failures.append(f"bench.py exited with {result.returncode}: {last_error(result.stdout)}")
        rows = [json.loads(line) for line in raw.read_text().splitlines()] if raw.is_file() else []
        ratios = ganlab_over_minimal(rows)
        figures = {"rows": rows, "ganlab_over_minimal": ratios}
        markdown = "\n\n".join(t for t in tables if t)
        if failures:
            return StepResult("bench", status="timeout" if "time limit" in failures[0] else "failed",
                              reason="; ".join(failures), figures=figures, markdown=markdown)
        return StepResult("bench", figures=figures, markdown=markdown)

    def step_precision(self, clock: Clock) -> StepResult:
        data_name, data = self.data_overrides()
        recipes = {"wgan_gp": ["loss=wgan_gp"], "r1": ["loss=gan", "regularizer=r1"]}
        rows, failures, figures = [], [], {}
        for recipe, precision in self.scale.precision_runs:
            loss = recipes[recipe]
            name = f"precision_{recipe}_{precision}"
            overrides = [*data, *self.trainer_overrides(), *loss, f"trainer.precision={precision}",
                         f"iterations={self.scale.precision_iterations}", "log_every_n=1",
                         "callbacks.sample_grid.every_n=1000000", "callbacks.checkpoint.every_n=1000000",
                         *self.scale.train_size]
            try:
                run = self.train(name, overrides, clock)
            except (StepFailed, TimedOut) as failure:
                failures.append(str(failure))
                rows.append(f"| {recipe} | {precision} | - | {'timeout' if isinstance(failure, TimedOut) else 'failed'} "
                            "| - | - |")
                continue
            probe = run["probes"].get(0, {})
            figures[f"{recipe} / {precision}"] = probe
            scale = probe.get("loss_scale")
            scale_text = (f"{scale['first']:g} -> {scale['last']:g} (min {scale['min']:g}, fell after "
                          f"{len(scale['drops_at'])} iterations)" if scale else "none (no float16 scaler)")
            bad = probe.get("nonfinite", {})
            if bad:
                failures.append(f"{name}: non-finite {', '.join(f'{k} (iteration {v})' for k, v in bad.items())}")
            if probe.get("iterations") != self.scale.precision_iterations:
                failures.append(f"{name}: ran {probe.get('iterations')} of {self.scale.precision_iterations} "
                                "iterations")
            largest = max(probe.get("largest", {}).items(), key=lambda kv: kv[1], default=("-", 0.0))
            rows.append(f"| {recipe} | {precision} (ran as {probe.get('precision')}) | {probe.get('iterations')} "
                        f"| {'all finite' if not bad else 'NON-FINITE: ' + ', '.join(bad)} "
                        f"| {largest[0]} = {largest[1]:.3g} | {scale_text} |")
        markdown = (f"Data: {data_name}. Every logged term checked at every iteration (log_every_n=1).\n\n"
                    "| run | precision | iterations | terms | largest magnitude | float16 loss scale |\n"
                    "| --- | --- | ---: | --- | --- | --- |\n" + "\n".join(rows))
        if failures:
            timed_out = any("time limit" in f for f in failures)
            return StepResult("precision", status="timeout" if timed_out else "failed", reason="; ".join(failures),
                              figures=figures, markdown=markdown)
        return StepResult("precision", figures=figures, markdown=markdown)

    def step_ddp(self, clock: Clock) -> StepResult:
        if self.cuda:
            gpus = len(self.versions.get("gpus", []))
            if gpus < 2:
                return StepResult("ddp", status="skipped",
                                  reason=f"{gpus} GPU visible: data-parallel training needs two or more")
            trainer, backend = ["trainer=ddp"], f"NCCL, {gpus} GPUs"
        else:
            trainer, backend = ["trainer=ddp_cpu"], "gloo, 2 CPU processes"
        _, data = self.data_overrides()
        overrides = [*data, *trainer, f"iterations={self.scale.ddp_iterations}", "loss.d_steps_per_g_step=2",
                     "log_every_n=1", "callbacks.sample_grid.every_n=1000000", *self.scale.train_size]
        run = self.train("ddp", overrides, clock, save_weights=True)
        import torch  # the comparison only; this process never touches the GPU

        probe_path = run["probe_path"]
        states = [torch.load(f"{probe_path}.rank{rank}.pt", map_location="cpu") for rank in sorted(run["probes"])]
        if len(states) < 2:
            raise StepFailed(f"expected the weights of 2 or more ranks, found {len(states)}")
        differing = [name for name in states[0] for other in states[1:] if not torch.equal(states[0][name], other[name])]
        nonfinite = {rank: p["nonfinite"] for rank, p in run["probes"].items() if p["nonfinite"]}
        changed = run["probes"][0]["changed_tensors"]
        figures = {"ranks": len(states), "backend": backend, "tensors": len(states[0]), "changed_tensors": changed,
                   "differing_tensors": sorted(set(differing)), "iterations": run["probes"][0]["iterations"],
                   "nonfinite": nonfinite, "losses": run["metrics"]}
        markdown = (f"`{' '.join(trainer)}` ({backend}), {figures['iterations']} generator iterations, 2 D steps "
                    f"each: {len(states)} ranks, {len(states[0])} weight and buffer tensors ({changed} floating-point "
                    f"ones changed by training), {len(set(differing))} differing between ranks; final losses "
                    + ", ".join(f"{k} = {v:.4g}" for k, v in run["metrics"].items() if k.startswith("final/")))
        if differing or nonfinite or not changed:
            why = (f"the ranks hold different values for {len(set(differing))} tensors, e.g. {differing[0]}"
                   if differing else f"non-finite terms {nonfinite}" if nonfinite else "training changed no weight")
            return StepResult("ddp", status="failed", reason=why, figures=figures, markdown=markdown)
        return StepResult("ddp", figures=figures, markdown=markdown)

    def step_quality(self, clock: Clock) -> StepResult:
        data_name, data = self.data_overrides()
        iterations = self.scale.quality_iterations
        overrides = ["experiment=cifar10_dcgan", *data, *self.trainer_overrides(), f"iterations={iterations}",
                     "callbacks/metrics=classifier", f"callbacks.metrics.every_n={iterations}",
                     f"callbacks.metrics.num_samples={self.scale.quality_samples}",
                     f"callbacks.metrics.cache_dir={self.out / 'cache'}",
                     f"callbacks.sample_grid.every_n={iterations}", *self.scale.quality_size]
        started = time.monotonic()
        run = self.train("quality", overrides, clock)
        seconds = time.monotonic() - started
        metrics = run["metrics"]
        log = (self.out / "logs" / "quality.log").read_text(errors="replace")
        classifier = [ln.split("] - ", 1)[-1] for ln in log.splitlines() if "classifier" in ln.lower()][:3]
        shown = {k.removeprefix("final/"): v for k, v in metrics.items() if k.startswith("final/")}
        figures = {"data": data_name, "iterations": metrics.get("iterations"), "seconds": seconds, **shown}
        markdown = (f"`experiment=cifar10_dcgan` on {data_name}, {metrics.get('iterations')} generator iterations "
                    f"({seconds:.0f} s including start-up and the evaluation), classifier metric on "
                    f"{self.scale.quality_samples} generated images:\n\n"
                    + "\n".join(f"- {k}: {v:.4g}" for k, v in shown.items())
                    + ("\n\nClassifier: " + " / ".join(classifier) if classifier else "")
                    + f"\n\nSamples: `{self.out / 'runs' / 'quality' / 'samples'}`")
        if "fid" not in shown:
            return StepResult("quality", status="failed", reason="the run reported no classifier FID",
                              figures=figures, markdown=markdown)
        return StepResult("quality", figures=figures, markdown=markdown)

    # --- all --------------------------------------------------------------------------------------
    def run_step(self, name: str) -> StepResult:
        limit = self.scale.limits[name]
        clock = Clock(limit)
        step: Callable[[Clock], StepResult] = getattr(self, f"step_{name}")
        self.step_commands = []
        started = time.monotonic()
        print(f"[gpu-check] {name} (limit {limit} s) ...", flush=True)
        try:
            result = step(clock)
        except TimedOut as timeout:
            result = StepResult(name, status="timeout", reason=f"{timeout} ({limit} s)")
        except StepFailed as failure:
            result = StepResult(name, status="failed", reason=str(failure))
        except Exception as error:  # noqa: BLE001 - a broken step is reported; the others still run
            result = StepResult(name, status="failed", reason=f"{type(error).__name__}: {error}")
        result.seconds = time.monotonic() - started
        result.commands = list(self.step_commands)
        print(f"[gpu-check] {name}: {result.status} in {result.seconds:.0f} s"
              f"{' - ' + result.reason if result.reason else ''}", flush=True)
        return result

    def main(self) -> list[StepResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        results = []
        for name in STEPS:
            if name in self.args.skip:
                results.append(StepResult(name, status="skipped", reason="--skip"))
                continue
            results.append(self.run_step(name))
        total = time.monotonic() - started
        (self.out / "check.json").write_text(json.dumps(
            {"device": self.args.device, "scale": self.args.scale, "seconds": total, "versions": self.versions,
             "steps": [r.__dict__ for r in results]}, indent=1, default=str), encoding="utf-8")
        (self.out / "report.md").write_text(self.report(results, total), encoding="utf-8")
        self.record(results, total)
        print(f"[gpu-check] report: {self.out / 'report.md'} ({total:.0f} s)", flush=True)
        return results

    def report(self, results: list[StepResult], total: float) -> str:
        hardware = self.versions.get("hardware", self.args.device)
        lines = [f"# ganlab GPU check: {hardware}", "",
                 f"`{shlex.join([sys.executable, *sys.argv])}`: device {self.args.device}, sizes `{self.args.scale}`, "
                 f"{total:.0f} s in all.", "", "| step | status | seconds | note |", "| --- | --- | ---: | --- |"]
        for r in results:
            lines.append(f"| {r.name} | {r.status} | {r.seconds:.0f} | {r.reason.replace('|', '/')[:300]} |")
        for number, r in enumerate(results, start=1):
            lines += ["", f"## {number}. {r.name}: {r.status}", ""]
            if r.reason:
                lines += [f"{'Skipped' if r.status == 'skipped' else 'Problem'}: {r.reason}", ""]
            if r.markdown:
                lines += [r.markdown, ""]
            if r.commands:
                lines += ["Commands (logs in `logs/`):", "", *(f"    {c}" for c in r.commands), ""]
        return "\n".join(lines) + "\n"

    def record(self, results: list[StepResult], total: float) -> None:
        """The step outcomes and figures as ganlab.results records (bench.py writes its own rows)."""
        sys.path.insert(0, str(REPO / "src"))
        from ganlab.results import record

        hardware = self.versions.get("hardware") or f"{self.args.device} (versions step failed)"
        command = shlex.join(["python", "bench/gpu_check.py", *sys.argv[1:]])
        common = dict(command=command, hardware=hardware, results_dir=self.args.results_dir,
                      config={"device": self.args.device, "scale": self.args.scale})

        def put(setting: str, metric: str, value: float, **extra: Any) -> None:
            record("gpu_check", setting, metric, value, **{**common, **extra})

        for r in results:
            put(f"step: {r.name}", "passed", 1.0 if r.status == "ok" else 0.0,
                config={**common["config"], "status": r.status, "reason": r.reason[:500]})
            put(f"step: {r.name}", "seconds", r.seconds)
        put("all steps", "seconds", total)
        for setting, probe in next((r.figures for r in results if r.name == "precision"), {}).items():
            budget = probe.get("iterations")
            put(f"precision: {setting}", "nonfinite_terms", len(probe.get("nonfinite", {})), budget=budget)
            if probe.get("loss_scale"):
                put(f"precision: {setting}", "final_loss_scale", probe["loss_scale"]["last"], budget=budget)
                put(f"precision: {setting}", "loss_scale_drops", len(probe["loss_scale"]["drops_at"]), budget=budget)
        ddp = next((r for r in results if r.name == "ddp" and r.status in ("ok", "failed") and r.figures), None)
        if ddp is not None:
            put(f"ddp: {ddp.figures['backend']}", "differing_tensors", len(ddp.figures["differing_tensors"]),
                budget=ddp.figures["iterations"])
        quality = next((r for r in results if r.name == "quality" and r.figures), None)
        if quality is not None:
            for metric, value in quality.figures.items():
                if metric not in ("data", "iterations") and isinstance(value, (int, float)):
                    put(f"quality: cifar10_dcgan on {quality.figures['data']}", metric, value,
                        budget=quality.figures.get("iterations"))


def table_lines(output: str) -> str:
    """The markdown tables and headings of bench.py's output (without Lightning's own messages), a blank
    line between a table and the text around it."""
    lines: list[str] = []
    for line in output.splitlines():
        if not line.startswith(("|", "device:", "networks:", "command:", "ganlab's b/a")):
            continue
        if lines and lines[-1].startswith("|") != line.startswith("|"):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


def ganlab_over_minimal(rows: list[dict[str, Any]]) -> dict[str, float]:
    sides: dict[str, dict[str, float]] = {}
    for row in rows:
        key = f"{row['case']} / {row['precision']} / batch {row['batch']} / {row['data']}"
        sides.setdefault(key, {})[row["side"]] = row["ratio"]
    return {k: v["ganlab"] / v["lightning"] for k, v in sides.items() if {"ganlab", "lightning"} <= v.keys()}


def last_error(output: str, lines: int = 3) -> str:
    """The end of a failed process's output: its error message."""
    tail = [ln for ln in output.strip().splitlines() if ln.strip()][-lines:]
    return " / ".join(tail)[-600:] or "(no output)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for report.md, check.json, logs/ and runs/")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None,
                        help="cuda: the full check; cpu: the same steps at tiny sizes (default: cuda when torch sees a GPU)")
    parser.add_argument("--scale", choices=sorted(SCALES), default=None,
                        help="sizes: full (cuda's default), cpu (--device cpu's default), smoke (seconds per step)")
    parser.add_argument("--data-root", default=None,
                        help="where CIFAR-10 (cifar-10-batches-py/ or cifar10-train/<class>/) or MNIST (MNIST/raw/) lie")
    parser.add_argument("--skip", nargs="+", choices=STEPS, default=[], help="steps to leave out")
    parser.add_argument("--results-dir", default=str(REPO / "results"),
                        help="where the records go (default: the repository's results/)")
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.scale is None:
        args.scale = "full" if args.device == "cuda" else "cpu"
    if args.device == "cpu" and args.scale == "full":
        parser.error("--scale full is the GPU check's size; on the CPU use --scale cpu or smoke")
    return args


def main(argv: list[str] | None = None) -> int:
    results = Check(parse_args(argv)).main()
    return 0 if all(r.status in ("ok", "skipped") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
