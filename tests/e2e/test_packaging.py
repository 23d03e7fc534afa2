"""ganlab as an installed package: the wheel holds the configs and the console commands, and once it
is installed into a fresh virtual environment, `ganlab-train` and `ganlab-sample` run from an empty
directory (writing outputs/ there), with a user's own config directory and module too.

Offline: the wheel is built without build isolation (setuptools from the dev extra), and the fresh
environment sees the dependencies already installed here through a .pth file, so pip installs only
ganlab itself and checks the declared dependencies against what it finds (--no-index).
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

# builds a wheel and a virtual environment (~25 CPU-seconds): the slow tier, which CI runs
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "src" / "ganlab" / "conf"
TINY = ["data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "model.latent_dim=8",
        "model.generator.width=8", "model.discriminator.width=8", "trainer.enable_progress_bar=false",
        "iterations=2", "logger=none"]


def run(command: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs `command` as a user would: without this test session's PYTHONPATH (which points at the
    source tree), so only what is installed can be imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GANLAB_TRACEBACK")}
    env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", **(extra_env or {})})
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this source tree, built in a copy of it (the tree itself gets no build/ files)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(dist), str(source)], cwd=source)
    (built,) = dist.glob("ganlab-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin/ directory."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=venv).stdout.strip())
    # The dependencies (torch, Lightning, Hydra ...) and pip: this environment's site-packages.
    shared = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (purelib / "dependencies.pth").write_text("\n".join(shared) + "\n")
    run([str(python), "-m", "pip", "install", "--no-index", "-q", str(wheel)], cwd=venv)
    return bin_dir


def test_the_wheel_holds_the_configs_the_commands_and_the_license(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    configs = {f"ganlab/{p.relative_to(CONF.parent).as_posix()}" for p in CONF.rglob("*.yaml")}
    assert {"ganlab/conf/train.yaml", "ganlab/conf/sample.yaml", "ganlab/conf/experiment/quickstart.yaml",
            "ganlab/conf/loss/gan.yaml", "ganlab/conf/hydra/default.yaml"} <= configs
    assert configs <= names, sorted(configs - names)  # every config file of every group
    assert {"ganlab/commands.py", "ganlab/__main__.py"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert "ganlab-train = ganlab.commands:train_main" in entry_points
    assert "ganlab-sample = ganlab.commands:sample_main" in entry_points


def test_installed_commands_train_and_sample_from_an_empty_directory(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    where = run([str(installed / "python"), "-c", "import ganlab; print(ganlab.CONFIG_DIR)"], cwd=work).stdout
    assert Path(where.strip()).is_relative_to(installed.parent), where  # the installed copy, not the source tree

    run([str(installed / "ganlab-train"), *TINY], cwd=work)
    (run_dir,) = (work / "outputs" / "runs").iterdir()  # outputs/ below the current directory
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file() and (run_dir / "train.log").is_file() and (run_dir / "metrics.json").is_file()

    result = run([str(installed / "ganlab-sample"), f"ckpt_path={checkpoint}", "num_samples=6", "out=samples.npz"],
                 cwd=work)
    assert "wrote 6 samples" in result.stdout + result.stderr
    with np.load(work / "samples.npz") as samples:
        assert samples["x"].shape == (6, 32, 32, 1) and samples["x"].dtype == np.uint8
    assert (work / "samples_grid.png").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["outputs", "samples.npz", "samples_grid.png"]


def test_python_dash_m_ganlab_names_its_commands(installed, tmp_path):
    result = subprocess.run([str(installed / "python"), "-m", "ganlab"], cwd=tmp_path, capture_output=True,
                            text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 2 and "python -m ganlab {train,sample}" in result.stderr


def write_user_project(project: Path) -> None:
    """A user's project: their own loss class in their own module, a loss config naming it, and an
    experiment preset picking it, none of them inside ganlab."""
    (project / "conf" / "loss").mkdir(parents=True)
    (project / "conf" / "experiment").mkdir()
    (project / "my_losses.py").write_text(
        "from ganlab.losses import NonSaturatingLoss\n\n\n"
        "class HalfLoss(NonSaturatingLoss):\n"
        "    def discriminator_loss(self, real, fake):\n"
        "        return 0.5 * super().discriminator_loss(real, fake)\n")
    (project / "conf" / "loss" / "half.yaml").write_text(
        "defaults:\n  - gan  # ganlab's loss/gan.yaml, with its objective replaced\n  - _self_\n\n"
        "objective:\n  _target_: my_losses.HalfLoss\n")
    (project / "conf" / "experiment" / "my_tiny.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: digits\n  - override /loss: half\n\n"
        "iterations: 3\ndata:\n  batch_size: 16\n")


def test_a_user_config_directory_adds_a_preset_and_a_loss(installed, tmp_path):
    project = tmp_path / "project"
    write_user_project(project)
    overrides = [o for o in TINY if not o.startswith(("iterations=", "data="))]
    run([str(installed / "ganlab-train"), "--config-dir", "conf", "experiment=my_tiny", *overrides], cwd=project)
    (run_dir,) = (project / "outputs" / "runs").iterdir()
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["loss"]["objective"]["_target_"] == "my_losses.HalfLoss"
    assert config["iterations"] == 3 and config["data"]["batch_size"] == 16
    assert yaml.safe_load((run_dir / "metrics.json").read_text())["iterations"] == 3
    choices = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    assert choices["experiment"] == "my_tiny" and choices["loss"] == "half"
