"""Every option of every config group composes, and the objects it describes instantiate."""
from itertools import product
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganlab.build import build_module
from ganlab.config_checks import ConfigError

from helpers import compose_config, options


def test_every_group_has_options():
    for group in ("data", "model", "loss", "optim", "trainer", "logger", "callbacks", "paths", "hydra"):
        assert options(group), f"conf/{group}/ is empty"


def test_defaults_are_dcgan_gan_mnist(tmp_path):
    cfg = compose_config(output_dir=tmp_path)
    assert cfg.model.generator._target_.endswith("DCGANGenerator")
    assert cfg.loss.objective._target_.endswith("NonSaturatingLoss")
    assert cfg.data._target_.endswith("MNISTDataModule")


@pytest.mark.parametrize("model, loss", list(product(options("model"), options("loss"))))
def test_model_loss_pairs_build(tmp_path, model, loss):
    cfg = compose_config(f"model={model}", f"loss={loss}", output_dir=tmp_path)
    for shape in [(1, 28, 28), (3, 32, 32)]:
        try:
            module = build_module(cfg, image_shape=shape, num_classes=0)
        except ConfigError as error:  # a loss the family cannot serve (tests/contract/test_pairing.py: a real lack)
            assert str(error).startswith(f"model={model} cannot serve loss={loss}:"), error
            return
        assert module.d_steps_per_g_step == cfg.loss.d_steps_per_g_step
        g_opt, d_opt = module.configure_optimizers()
        assert g_opt.param_groups[0]["lr"] == cfg.optim.generator.lr


@pytest.mark.parametrize("group", ["trainer", "logger", "callbacks", "optim", "regularizer", "scheduler",
                                   "instance_noise", "latent", "experiment"])
def test_group_options_instantiate(tmp_path, group):
    for option in options(group):
        cfg = compose_config(f"{group}={option}", output_dir=tmp_path)
        OmegaConf.resolve(cfg)
        if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
            cfg.trainer.accelerator, cfg.trainer.devices = "cpu", 2  # same strategy, on CPU processes
        trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
        assert isinstance(trainer, pl.Trainer)
        for node in (cfg.logger or {}).values():
            assert instantiate(node) is not None
        for node in (cfg.callbacks or {}).values():
            assert isinstance(instantiate(node), pl.Callback)
        build_module(cfg, image_shape=(1, 28, 28), num_classes=10 if cfg.conditioning.uses_labels else 0)


@pytest.mark.parametrize("data", options("data"))
def test_data_options_compose(tmp_path, data):
    cfg = compose_config(f"data={data}", output_dir=tmp_path)
    OmegaConf.resolve(cfg)
    assert cfg.data._target_.startswith("ganlab.data.")
    assert cfg.data.batch_size > 0


def test_unknown_option_names_the_group(tmp_path):
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="loss"):
        compose_config("loss=nope", output_dir=tmp_path)


def test_lightning_trainer_arguments_are_overridable(tmp_path):
    cfg = compose_config("trainer=cpu", "trainer.fast_dev_run=2", "trainer.max_time=00:00:01:00",
                         "trainer.precision=bf16-mixed", "trainer.devices=1", "trainer.deterministic=true", output_dir=tmp_path)
    OmegaConf.resolve(cfg)
    trainer = instantiate(cfg.trainer, logger=False, enable_progress_bar=False)
    assert trainer.fast_dev_run == 2 and trainer.precision == "bf16-mixed"
