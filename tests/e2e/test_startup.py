"""Ctrl-C / SIGTERM during start-up (imports, configuration, data preparation) and errors inside a
sweep's job: one line, the right exit status, no traceback, no half-made run directory."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganlab.data import DigitsDataModule

REPO = Path(__file__).resolve().parents[2]
TINY = ["data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "data.image_size=28",
        "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
        "trainer.enable_progress_bar=false", "iterations=2"]
# The helper below is imported by train.py from `e2e.test_startup`: tests/ goes on its path.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")]))}
ENV.pop("GANLAB_TRACEBACK", None)


class SlowDigits(DigitsDataModule):
    """The digits, after a data preparation that prints PREPARING DATA and takes a minute (a large
    dataset being unpacked), so that a signal lands while the run directory already exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        print("PREPARING DATA", flush=True)
        time.sleep(60)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_imports_stops_cleanly(tmp_path, signum):
    run_dir = tmp_path / "run"
    process = start(*TINY, f"hydra.run.dir={run_dir}")
    time.sleep(1.0)  # importing torch and Lightning takes longer than that
    process.send_signal(signum)
    output = finish(process)
    assert process.returncode == 128 + signum, output
    name = signal.Signals(signum).name
    assert output.strip().splitlines()[-1] == (f"{name} received during start-up: stopped before the first "
                                               "training step, nothing was trained yet"), output
    assert "Traceback" not in output and not run_dir.exists(), output


def test_a_signal_during_data_preparation_removes_the_new_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    process = start(*TINY, f"hydra.run.dir={run_dir}", "data._target_=e2e.test_startup.SlowDigits")
    lines = []
    for line in process.stdout:  # until the run directory exists and the data is being prepared
        lines.append(line)
        if "PREPARING DATA" in line:
            break
    assert run_dir.is_dir()
    process.send_signal(signal.SIGTERM)
    output = "".join(lines) + finish(process)
    assert process.returncode == 143, output
    assert (f"SIGTERM received during start-up: stopped before the first training step, nothing was trained yet "
            f"(removed the new run directory {run_dir})") in output
    assert "Traceback" not in output and not run_dir.exists(), output


def test_a_config_error_in_a_sweep_job_is_one_line_and_recorded(tmp_path):
    sweep = tmp_path / "multirun"
    result = subprocess.run([sys.executable, "train.py", "-m", *TINY, f"hydra.sweep.dir={sweep}", "seed=-1,-2"],
                            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        "error: seed must be an integer in [0, 4294967295], got -1",
        "error: seed must be an integer in [0, 4294967295], got -2"], output
    with (sweep / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["job"], r["status"], r["error"]) for r in rows] == [
        ("0", "failed", "ConfigError: seed must be an integer in [0, 4294967295], got -1"),
        ("1", "failed", "ConfigError: seed must be an integer in [0, 4294967295], got -2")]
