"""Resuming, in process: which directory a resume writes to (never over a run's newer state), how the
saved and the given overrides merge, and that optimiser settings given on resume reach the restored
optimisers. (tests/e2e/test_resume.py runs the same through train.py, with checksums.)"""
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.callbacks.optimizer_settings import ApplyOptimizerSettings
from ganlab.checkpoints import CheckpointError
from ganlab.resume import (check_unchangeable, hydra_output_subdir, is_newest_state, merge_overrides, resumed_run_dir,
                           training_state)

from helpers import fit_module, make_toy_module


def fake_run(tmp_path: Path, states: dict[str, tuple[int, int]]) -> Path:
    """A run directory whose checkpoints/ holds files name -> (g_iter, d_iter)."""
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    for name, (g_iter, d_iter) in states.items():
        torch.save({"ganlab": {"g_iter": g_iter, "d_iter": d_iter}, "state_dict": {}}, folder / name)
    return folder.parent


def test_only_the_newest_state_continues_in_place(tmp_path):
    run = fake_run(tmp_path, {"iter_0000010.ckpt": (10, 10), "iter_0000020.ckpt": (20, 20), "last.ckpt": (20, 20),
                              "best.ckpt": (10, 10)})
    ckpts = run / "checkpoints"
    assert training_state(ckpts / "iter_0000020.ckpt") == (20, 20)
    assert is_newest_state(ckpts / "last.ckpt") and is_newest_state(ckpts / "iter_0000020.ckpt")
    assert not is_newest_state(ckpts / "iter_0000010.ckpt") and not is_newest_state(ckpts / "best.ckpt")
    fresh = str(tmp_path / "outputs" / "runs" / "now")
    assert resumed_run_dir(str(ckpts / "last.ckpt"), fresh, "T") == str(run)
    assert resumed_run_dir(str(ckpts / "iter_0000020.ckpt"), fresh, "T") == str(run)
    assert resumed_run_dir(str(ckpts / "iter_0000010.ckpt"), fresh, "T") == str(tmp_path / "run_branch_iter_0000010_T")
    assert resumed_run_dir(None, fresh, "T") == fresh


def test_a_checkpoint_outside_a_run_starts_a_new_run(tmp_path):
    loose = tmp_path / "model.ckpt"
    torch.save({"ganlab": {"g_iter": 4, "d_iter": 4}}, loose)
    fresh = str(tmp_path / "fresh")
    assert resumed_run_dir(str(loose), fresh, "T") == fresh  # no run to continue: a new one
    assert not is_newest_state(loose)


def test_without_last_ckpt_the_newest_periodic_checkpoint_is_the_newest_state(tmp_path):
    run = fake_run(tmp_path, {"iter_0000010.ckpt": (10, 10), "iter_0000020.ckpt": (20, 40)})
    assert is_newest_state(run / "checkpoints" / "iter_0000020.ckpt")
    assert not is_newest_state(run / "checkpoints" / "iter_0000010.ckpt")


def test_continuing_in_place_records_its_config_in_its_own_hydra_folder(tmp_path):
    run = fake_run(tmp_path, {"last.ckpt": (4, 4)})
    (run / ".hydra").mkdir()
    ckpt = str(run / "checkpoints" / "last.ckpt")
    assert hydra_output_subdir(ckpt, str(run), "T") == ".hydra/resumed_T"  # the first .hydra/ is kept
    branch = tmp_path / "run_branch_x"
    (branch / ".hydra").mkdir(parents=True)  # claimed before Hydra writes (ganlab.run_dirs): still its own .hydra
    assert hydra_output_subdir(ckpt, str(branch), "T") == ".hydra"  # a new directory
    assert hydra_output_subdir(None, str(run), "T") == ".hydra"


def test_given_overrides_win_and_a_replaced_node_drops_the_saved_ones_below_it():
    saved = ["data=digits", "model.generator.width=16", "model.latent_dim=8", "iterations=10", "+loss.extra=1"]
    assert merge_overrides(saved, ["iterations=20"]) == [
        "data=digits", "model.generator.width=16", "model.latent_dim=8", "+loss.extra=1", "iterations=20"]
    # model=mlp: the DCGAN's width override would make Hydra fail with "Could not override"
    assert merge_overrides(saved, ["model=mlp"]) == ["data=digits", "iterations=10", "+loss.extra=1", "model=mlp"]
    assert merge_overrides(saved, ["loss.extra=2"]) == [*saved[:4], "loss.extra=2"]


def test_seed_and_optimiser_class_cannot_change_on_resume():
    checkpoint = {"ganlab_run": {"config": {"seed": 0, "optim": {"generator": {"_target_": "torch.optim.Adam"},
                                                                 "discriminator": {"_target_": "torch.optim.Adam"}}}}}
    same = OmegaConf.create(checkpoint["ganlab_run"]["config"])
    check_unchangeable(checkpoint, same)
    with pytest.raises(CheckpointError, match=r"^seed=3 cannot change when resuming \(the checkpoint's run has 0\)"):
        check_unchangeable(checkpoint, OmegaConf.merge(same, {"seed": 3}))
    with pytest.raises(CheckpointError, match=r"^optim.discriminator._target_=torch.optim.RMSprop cannot change"):
        check_unchangeable(checkpoint, OmegaConf.merge(same, {"optim": {"discriminator": {"_target_": "torch.optim.RMSprop"}}}))


@pytest.mark.parametrize("key, old, new", [("data.batch_size", 64, 16), ("loss.d_steps_per_g_step", 1, 5)])
def test_the_data_position_units_cannot_change_on_resume(key, old, new):
    """The saved data position counts batches of data.batch_size, k = loss.d_steps_per_g_step per
    iteration: another value would replay or skip images, so it is refused in one line."""
    group, name = key.split(".")
    checkpoint = {"ganlab_run": {"config": {group: {name: old}}}}
    check_unchangeable(checkpoint, OmegaConf.create({group: {name: old}}))
    with pytest.raises(CheckpointError) as error:
        check_unchangeable(checkpoint, OmegaConf.create({group: {name: new}}))
    message = str(error.value)
    assert message.startswith(f"{key}={new} cannot change when resuming (the checkpoint's run has {old})")
    assert "repeat or skip images" in message and "\n" not in message


def test_optimiser_settings_given_on_resume_reach_the_restored_optimisers(tmp_path, caplog):
    """Lightning restores lr and betas from the checkpoint; the callback puts the config's back."""
    fit_module(make_toy_module(iterations=2, lr=1e-2), callbacks=[IterationCheckpoint(str(tmp_path), every_n=1000)])
    ckpt = tmp_path / "last.ckpt"
    resumed = make_toy_module(iterations=4, lr=1e-2)
    settings = ApplyOptimizerSettings({"optim.generator": ("generator", {"lr": 1e-2, "betas": (0.9, 0.999)}),
                                       "optim.discriminator": ("discriminator", {"lr": 5e-5, "betas": (0.0, 0.9),
                                                                                 "foreach": True})})
    with caplog.at_level(logging.INFO, logger="ganlab.callbacks.optimizer_settings"):
        trainer = fit_module(resumed, callbacks=[settings], ckpt_path=str(ckpt))
    g_opt, d_opt = trainer.optimizers
    assert g_opt.param_groups[0]["lr"] == 1e-2 and d_opt.param_groups[0]["lr"] == 5e-5
    assert tuple(d_opt.param_groups[0]["betas"]) == (0.0, 0.9)
    assert d_opt.param_groups[0]["foreach"] is None  # implementation flags are left alone
    assert "optim.discriminator.lr = 5e-05 as the config says (the checkpoint had 0.01)" in caplog.text
    assert "optim.discriminator.betas = [0.0, 0.9] as the config says (the checkpoint had [0.9, 0.999])" in caplog.text
    assert "optim.generator" not in caplog.text  # unchanged: not logged


def test_config_directories_become_the_arguments_that_add_them_again():
    from ganlab.resume import config_dir_arguments

    assert config_dir_arguments([]) == []
    assert config_dir_arguments(["file:///home/me/my conf", "pkg://my_ext.conf", "file:///c"]) == [
        "--config-dir '/home/me/my conf'", "--config-dir /c", "'hydra.searchpath=[pkg://my_ext.conf]'"]
