"""The console commands `ganlab-train` and `ganlab-sample` (also `python -m ganlab train|sample`, and
the root train.py / sample.py of a clone).

Both read the configs shipped inside the package (ganlab.CONFIG_DIR) and write below the current
directory (`outputs/`, or `out=` for sampling), whatever the directory. A user's own config
directory joins the search path with Hydra's `--config-dir DIR` (or `hydra.searchpath=[file://DIR]`):
its presets, losses, datasets ... are picked like the packaged ones (`experiment=my_preset`), and a
`_target_` may name a class in the user's own module: an installed one, one on PYTHONPATH, or one in
the current directory (searched after the installed packages, so it never hides one of them).

This module imports nothing heavy at import time: `train_main` installs the start-up signal guard
(ganlab.interrupt) before torch and Lightning are imported, so Ctrl-C during those seconds stops at
once and cleanly.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from ganlab import CONFIG_DIR


def train_main() -> None:
    """`ganlab-train [group=option ...] [key=value ...]`: trains a GAN (the config `train`). Returns
    nothing: a console script's return value would become its exit status."""
    from ganlab.interrupt import guard_startup

    guard_startup()  # from here until the first training step, Ctrl-C / SIGTERM stop at once, cleanly
    current_directory_importable()

    import hydra  # the imports below take seconds: the guard comes first
    from omegaconf import DictConfig

    from ganlab.cli import check_checkpoint_exists, check_command_line, quiet_console, report_errors
    from ganlab.sweep import objective_value
    from ganlab.train import run

    def train(cfg: DictConfig) -> Any:
        """The run's final metrics, or the one the config key `objective` names (what Optuna optimises)."""
        return objective_value(run(cfg), cfg.get("objective"))

    @hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
    def main(cfg: DictConfig) -> Any:
        # In a multirun an error fails only its job: Hydra records it (sweep summary) and runs the rest.
        return report_errors(train, cfg)

    quiet_console()
    check_command_line(CONFIG_DIR, "train", sys.argv[1:])  # a misspelt key: the closest one, before Hydra
    check_checkpoint_exists(sys.argv[1:])  # no run directory for a resume that cannot start
    main()


def sample_main() -> None:
    """`ganlab-sample ckpt_path=PATH [num_samples=N] [out=PATH] ...`: images from a trained generator."""
    current_directory_importable()  # the checkpoint's config may name the user's own classes
    import hydra
    from omegaconf import DictConfig

    from ganlab.cli import check_command_line, quiet_console, report_errors
    from ganlab.sample import sample

    @hydra.main(config_path=str(CONFIG_DIR), config_name="sample", version_base="1.3")
    def main(cfg: DictConfig) -> None:
        report_errors(sample, cfg)

    quiet_console()
    check_command_line(CONFIG_DIR, "sample", sys.argv[1:])  # a misspelt key: the closest one, before Hydra
    main()


def current_directory_importable() -> None:
    """A user's module in the current directory (`_target_: my_losses.MyLoss`) can be imported, as
    with `python -m`, but after everything installed: a stray file cannot hide a library."""
    if not {"", ".", os.getcwd()} & set(sys.path):
        sys.path.append(os.getcwd())


COMMANDS = {"train": train_main, "sample": sample_main}


def main() -> None:
    """`python -m ganlab train|sample [overrides ...]`: the console commands by another name."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: python -m ganlab {train,sample} [group=option ...] [key=value ...]\n"
              "  (the same as the commands ganlab-train and ganlab-sample; --help after the command "
              "lists the config groups)", file=sys.stderr)
        raise SystemExit(2)
    command = sys.argv.pop(1)
    sys.argv[0] = f"ganlab-{command}"
    COMMANDS[command]()
