"""The mode-collapse options compose and build: data=ring/grid, model=pacgan, packing=pacgan,
unrolled=default, callbacks/metrics=modes, the minibatch std feature, and every row of PacGAN's
table (conf/pacgan_row/) on both presets, carrying the paper's protocol."""
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from ganlab import CONFIG_DIR
from ganlab.callbacks.mode_metrics import ModeMetrics
from ganlab.losses.unrolled import UnrolledLoss
from ganlab.networks.layers import MinibatchStdDev
from ganlab.networks.packing import PackedDiscriminator
from ganlab.build import build_module

from helpers import compose_config

CONF = CONFIG_DIR
ROWS = sorted(p.stem for p in (CONF / "pacgan_row").glob("*.yaml"))


def compose_train(*overrides: str):
    return compose_config(*overrides, output_dir="/tmp/unused", resolve=True)


def built(cfg):
    datamodule = instantiate(cfg.data)
    return datamodule, build_module(cfg, tuple(datamodule.image_shape), datamodule.num_classes)


@pytest.mark.parametrize("data, modes", [("ring", 8), ("grid", 25)])
def test_mixture_data_with_pacgan_and_mode_metrics(data, modes):
    cfg = compose_train(f"data={data}", "model=pacgan", "callbacks/metrics=modes")
    datamodule, module = built(cfg)
    assert datamodule.image_shape == (2,) and datamodule.means.shape == (modes, 2)
    assert module.generator.image_shape == (2,) and module.latent_dim == 2
    assert isinstance(instantiate(cfg.callbacks.metrics), ModeMetrics)
    assert list(cfg.callbacks).index("metrics") < list(cfg.callbacks).index("checkpoint")


@pytest.mark.parametrize("m", [2, 3, 4])
def test_packing_option_wraps_any_discriminator(m):
    for model, shape in (("pacgan", (2,)), ("dcgan", (1, 28, 28))):
        cfg = compose_train(f"model={model}", "packing=pacgan", f"packing.samples={m}")
        module = build_module(cfg, shape, num_classes=0)
        assert isinstance(module.discriminator, PackedDiscriminator) and module.discriminator.pack_size == m
        first = next(l for l in module.discriminator.modules() if isinstance(l, (nn.Linear, nn.Conv2d)))
        assert (first.in_features if model == "pacgan" else first.in_channels) == shape[0] * m  # m samples
    assert not isinstance(build_module(compose_train("model=pacgan"), (2,), 0).discriminator, PackedDiscriminator)


def test_unrolled_option_wraps_the_loss():
    cfg = compose_train("model=pacgan", "loss=hinge", "unrolled=default", "unrolled.steps=3")
    module = build_module(cfg, (2,), 0)
    assert isinstance(module.loss, UnrolledLoss) and module.loss.steps == 3
    assert type(module.loss.objective).__name__ == "HingeLoss"
    assert not isinstance(build_module(compose_train("model=pacgan"), (2,), 0).loss, UnrolledLoss)


def test_minibatch_std_option():
    for model, shape in (("pacgan", (2,)), ("mlp", (2,)), ("dcgan", (1, 28, 28))):
        cfg = compose_train(f"model={model}", "model.discriminator.minibatch_std=4")
        module = build_module(cfg, shape, 0)
        assert any(isinstance(m, MinibatchStdDev) for m in module.discriminator.modules())


@pytest.mark.parametrize("experiment", ["pacgan_ring", "pacgan_grid"])
@pytest.mark.parametrize("row", ROWS)
def test_every_table_row_builds_with_the_protocol(experiment, row):
    cfg = compose_train(f"experiment={experiment}", f"+pacgan_row={row}")
    assert cfg.optim.generator.lr == cfg.optim.discriminator.lr == 1e-4
    assert list(cfg.optim.discriminator.betas) == [0.8, 0.999] and cfg.loss.d_steps_per_g_step == 1
    assert cfg.callbacks.metrics._target_.endswith("ModeMetrics")
    packs = cfg.packing.samples if cfg.get("packing") else 1
    assert cfg.data.batch_size == 100 * packs  # 100 packs per D step, as the paper
    datamodule, module = built(cfg)
    assert module.d_steps_per_g_step == 1 and module.iterations == cfg.iterations
    if row.startswith("pacgan"):
        assert module.discriminator.pack_size == int(row.removeprefix("pacgan"))
    if row == "unrolled":
        assert isinstance(module.loss, UnrolledLoss) and module.loss.steps == 5
    regularizers = [name for name in module.parts if name.startswith("loss.regularizers.")]
    if row == "wgan_gp":
        assert regularizers == ["loss.regularizers.gradient_penalty"]
    if row == "r1":
        assert regularizers == ["loss.regularizers.r1"]
