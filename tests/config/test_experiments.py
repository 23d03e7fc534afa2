"""Every preset in conf/experiment/ composes, carries its paper's settings, builds at full size and
trains a tiny budget in-process (`ganlab.train.run`) on a tiny fake copy of its dataset, written in
the dataset's official layout, with the networks shrunk to width 8."""
import json
import math
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict
from PIL import Image

from ganlab import CONFIG_DIR
from ganlab.build import build_module
from ganlab.train import run

from helpers import compose_config

CONF = CONFIG_DIR
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# Presets that reproduce no paper: the quick start, the laptop presets and the quality benchmark's setting.
OWN_PRESETS = {"quickstart", "mnist_fast", "mnist_cgan_fast", "mnist_quality"}
PAPER_PRESETS = [name for name in PRESETS if name not in OWN_PRESETS]


def compose_preset(name: str, output_dir: Path, *overrides: str):
    return compose_config(f"experiment={name}", *overrides, output_dir=output_dir)


# --- tiny fake datasets in the official layouts ----------------------------------------------------
def fake_mnist(root: Path, n: int = 24, n_test: int = 20) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, array in [("train-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28))),
                        ("train-labels-idx1-ubyte", np.arange(n) % 10),
                        ("t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28))),
                        ("t10k-labels-idx1-ubyte", np.arange(n_test) % 10)]:
        header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
        (raw / name).write_bytes(header + array.astype(np.uint8).tobytes())


def fake_cifar10(root: Path, per_batch: int = 4) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(1, 6):
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [(i + k) % 10 for k in range(per_batch)]}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"class"] * 10}))


def fake_celeba(root: Path, n: int = 12) -> None:
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(2)
    for k in range(n):
        image = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / "img_align_celeba" / f"{k + 1:06d}.jpg")
    (folder / "list_eval_partition.txt").write_text("".join(f"{k + 1:06d}.jpg 0\n" for k in range(n)))


FAKE_DATA = {  # the DataModule a preset uses -> a writer of its tiny fake dataset
    "ganlab.data.MNISTDataModule": fake_mnist,
    "ganlab.data.CIFAR10DataModule": fake_cifar10,
    "ganlab.data.CelebADataModule": fake_celeba,
    "ganlab.data.DigitsDataModule": lambda root: None,  # bundled with scikit-learn
    "ganlab.data.mixture.RingDataModule": lambda root: None,  # drawn from its parameters
    "ganlab.data.mixture.GridDataModule": lambda root: None,
}


def shrink(cfg) -> None:
    """Width 8 (convolutional families) or one hidden layer of 16 (MLPs, fully connected layers), latent
    size 8; metrics on 40 images, InfoGAN's code measured on 4 images per value."""
    with open_dict(cfg):
        cfg.model.latent_dim = 8
        for net in (cfg.model.generator, cfg.model.discriminator):
            if "width" in net:
                net.width = 8
            if "hidden" in net:
                net.hidden = [16]
            if "fc_width" in net:
                net.fc_width = 16
            if "channels" in net:
                net.channels = 8
        if cfg.callbacks.get("code_accuracy") is not None:
            cfg.callbacks.code_accuracy.per_code = 4
        metrics = cfg.callbacks.get("metrics")
        if metrics is not None:  # a preset that scores itself (mnist_quality, ...): a few images
            small = dict(num_samples=40, batch_size=20)
            metrics.update({key: value for key, value in small.items() if key in metrics})  # (modes: no batches)
            scores = metrics.get("scores") or {}
            for name, subsets in (("kid", "subsets"), ("is", "splits")):
                if scores.get(name) is not None:
                    scores[name][subsets] = 2


# --- the presets -------------------------------------------------------------------------------------
def test_every_issue_preset_exists():
    expected = {"mnist_gan", "mnist_cgan", "cifar10_dcgan", "cifar10_wgan_clip", "cifar10_wgan_gp",
                "cifar10_sngan", "cifar10_cgan_pd", "celeba64_dcgan", "mnist_ebgan", "cifar10_rpgan"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_a_global_override_list_citing_its_source(name):
    text = (CONF / "experiment" / f"{name}.yaml").read_text()
    assert text.startswith("# @package _global_")
    assert re.search(r"^defaults:\n(  - override /\w+: \w+\n)+", text, re.MULTILINE)
    if name in PAPER_PRESETS:
        assert re.search(r"\b[A-Z]\w+ (et al\.|& [A-Z]\w+) 20\d\d", text), "cite the paper"
        assert "Published:" in text and "Deliberately different:" in text


# The paper's settings each preset must carry (dotted key -> value in the composed config).
ADAM_SNGAN = {"loss.lr": 2e-4, "loss.betas": [0.0, 0.9], "optim.generator._target_": "torch.optim.Adam"}
ADAM_DCGAN = {"loss.lr": 2e-4, "loss.betas": [0.5, 0.999], "optim.generator._target_": "torch.optim.Adam"}
PAPER_SETTINGS = {
    "mnist_gan": {
        "data._target_": "ganlab.data.MNISTDataModule", "model.generator._target_": "ganlab.networks.MLPGenerator",
        "loss.objective._target_": "ganlab.losses.NonSaturatingLoss", "conditioning.uses_labels": False,
        "data.batch_size": 100, "loss.d_steps_per_g_step": 1, "model.generator.hidden": [1200, 1200],
        "model.generator.norm": None, "model.discriminator.dropout": 0.5, **ADAM_DCGAN},
    "mnist_cgan": {
        "data._target_": "ganlab.data.MNISTDataModule", "model.generator._target_": "ganlab.networks.MLPGenerator",
        "conditioning.uses_labels": True, "model.generator.label_dim": 10, "model.discriminator.label_dim": 10,
        "data.batch_size": 100, "loss.d_steps_per_g_step": 1, "model.discriminator.dropout": 0.5, **ADAM_DCGAN},
    "cifar10_dcgan": {
        "data._target_": "ganlab.data.CIFAR10DataModule", "model.generator._target_": "ganlab.networks.DCGANGenerator",
        "loss.objective._target_": "ganlab.losses.NonSaturatingLoss", "data.batch_size": 128,
        "model.latent_dim": 100, "loss.d_steps_per_g_step": 1, **ADAM_DCGAN},
    "cifar10_wgan_clip": {
        "data._target_": "ganlab.data.CIFAR10DataModule",
        "model.discriminator._target_": "ganlab.networks.DCGANDiscriminator",
        "loss.objective._target_": "ganlab.losses.WassersteinLoss", "optim.generator._target_": "torch.optim.RMSprop",
        "optim.discriminator.lr": 5e-5, "loss.constraints.weight_clip.clip_value": 0.01,
        "loss.d_steps_per_g_step": 5, "data.batch_size": 64},
    "cifar10_wgan_gp": {
        "scheduler.generator._target_": "ganlab.schedules.LinearDecay",
        "scheduler.discriminator._target_": "ganlab.schedules.LinearDecay",
        "data._target_": "ganlab.data.CIFAR10DataModule",
        "model.discriminator._target_": "ganlab.networks.ResNetDiscriminator",
        "loss.objective._target_": "ganlab.losses.WassersteinLoss", "loss.regularizers.gradient_penalty.weight": 10.0,
        "loss.discriminator_variant": "critic", "model.variants.critic.norm": None,
        "model.variants.critic.spectral_norm": False, "model.generator.width": 128, "model.discriminator.width": 128, "loss.d_steps_per_g_step": 5,
        "data.batch_size": 64, "iterations": 100_000, **ADAM_SNGAN},
    "cifar10_sngan": {
        "scheduler.generator._target_": "ganlab.schedules.LinearDecay",
        "scheduler.discriminator._target_": "ganlab.schedules.LinearDecay",
        "data._target_": "ganlab.data.CIFAR10DataModule", "model.generator._target_": "ganlab.networks.ResNetGenerator",
        "model.discriminator._target_": "ganlab.networks.ResNetDiscriminator",
        "loss.objective._target_": "ganlab.losses.HingeLoss", "model.discriminator.spectral_norm": True,
        "model.generator.width": 256, "model.discriminator.width": 128, "model.latent_dim": 128,
        "loss.d_steps_per_g_step": 5, "data.batch_size": 64, "iterations": 50_000,
        "conditioning.uses_labels": False, **ADAM_SNGAN},
    "cifar10_cgan_pd": {
        "scheduler.generator._target_": "ganlab.schedules.LinearDecay",
        "scheduler.discriminator._target_": "ganlab.schedules.LinearDecay",
        "data._target_": "ganlab.data.CIFAR10DataModule", "model.generator._target_": "ganlab.networks.ResNetGenerator",
        "loss.objective._target_": "ganlab.losses.HingeLoss", "model.discriminator.spectral_norm": True,
        "model.discriminator.projection": True, "model.generator.conditional_norm": True,
        "model.generator.label_dim": 0, "conditioning.uses_labels": True,
        "loss.d_steps_per_g_step": 5, "data.batch_size": 64, "iterations": 50_000, **ADAM_SNGAN},
    "celeba64_dcgan": {
        "data._target_": "ganlab.data.CelebADataModule", "data.image_size": 64,
        "model.generator._target_": "ganlab.networks.DCGANGenerator", "model.generator.width": 128,
        "data.batch_size": 128, "model.latent_dim": 100, **ADAM_DCGAN},
    "cifar10_rpgan": {
        "data._target_": "ganlab.data.CIFAR10DataModule", "model.generator._target_": "ganlab.networks.ResNetGenerator",
        "loss.objective._target_": "ganlab.losses.RelativisticPairingLoss",
        "loss.regularizers.r1._target_": "ganlab.regularizers.R1Penalty", "loss.regularizers.r1.weight": 0.05,
        "loss.regularizers.r2._target_": "ganlab.regularizers.R2Penalty", "loss.regularizers.r2.weight": 0.05,
        "loss.regularizers.r1.every_n": 1, "loss.regularizers.r2.every_n": 1, "ema._target_": "ganlab.ema.GeneratorEMA",
        "scheduler.generator._target_": "ganlab.schedules.Cosine", "scheduler.generator.final": 0.25,
        "scheduler.discriminator.final": 0.25, "loss.d_steps_per_g_step": 1, **ADAM_SNGAN},
    "mnist_ebgan": {
        "data._target_": "ganlab.data.MNISTDataModule",
        "loss.discriminator_variant": "autoencoder", "model.variants.autoencoder._target_": "ganlab.networks.MLPAutoencoder",
        "loss.objective._target_": "ganlab.losses.EnergyLoss", "loss.objective.pt_weight": 0.1,
        "data.batch_size": 64, "loss.lr": 1e-3},
    "mnist_infogan": {  # Chen et al. 2016, appendix C, and openai/InfoGAN's launchers/run_mnist_exp.py
        "data._target_": "ganlab.data.MNISTDataModule",
        "model.generator._target_": "ganlab.networks.infogan_mnist.InfoGANMNISTGenerator",
        "model.discriminator._target_": "ganlab.networks.infogan_mnist.InfoGANMNISTDiscriminator",
        "model.generator.fc_width": 1024, "model.generator.channels": 128, "model.discriminator.width": 64,
        "model.discriminator.fc_width": 1024, "model.discriminator.leak": 0.1, "model.latent_dim": 62,
        "latent._target_": "ganlab.latents.InfoGANLatent", "latent.noise._target_": "ganlab.latents.UniformLatent",
        "latent.categorical": [10], "latent.continuous": 2, "infogan.q_head.hidden": 128,
        "infogan.q_head.learn_std": False, "infogan.loss.categorical_weight": 1.0,
        "infogan.loss.continuous_weight": 1.0, "loss.objective._target_": "ganlab.losses.NonSaturatingLoss",
        "data.batch_size": 128, "iterations": 5000, "optim.generator.lr": 1e-3, "optim.discriminator.lr": 2e-4,
        "loss.betas": [0.5, 0.999], "loss.d_steps_per_g_step": 1,
        "callbacks.code_accuracy._target_": "ganlab.callbacks.CodeClassAccuracy"},
    "mnist_began": {  # Berthelot et al. 2017: a conv autoencoder with a narrow embedding h, the L1 error
        "data._target_": "ganlab.data.MNISTDataModule",
        "model.variants.autoencoder._target_": "ganlab.networks.DCGANAutoencoder",
        "model.variants.autoencoder.embedding": 64, "model.variants.autoencoder.error_exponent": 1,
        "loss.discriminator_variant": "autoencoder",
        "loss.objective._target_": "ganlab.losses.BoundaryEquilibriumLoss", "loss.objective.gamma": 1.0,
        "loss.objective.k_initial": 0.0, "loss.betas": [0.5, 0.999],
        "callbacks.lr_halving._target_": "ganlab.callbacks.HalveLearningRateOnStall",
        "callbacks.lr_halving.monitor": "began/m_global", "callbacks.lr_halving.rate": 0.5},
}


PACGAN_PROTOCOL = {  # Lin et al. 2018, sec. 5.1 and the released code
    "model.generator._target_": "ganlab.networks.pacgan.PacGANGenerator", "model.latent_dim": 2,
    "model.discriminator._target_": "ganlab.networks.pacgan.PacGANDiscriminator",
    "model.generator.hidden": [400, 400, 400, 400], "model.discriminator.hidden": [200, 200, 200],
    "model.discriminator.pieces": 5, "model.generator.init_std": 0.02, "model.discriminator.init_std": 0.02,
    "loss.objective._target_": "ganlab.losses.NonSaturatingLoss", "loss.d_steps_per_g_step": 1,
    "loss.lr": 1e-4, "loss.betas": [0.8, 0.999], "data.batch_size": 100, "data.size": 100_000,
    "callbacks.metrics.num_samples": 2500, "callbacks.metrics.threshold": 3.0}
PAPER_SETTINGS["pacgan_ring"] = {"data._target_": "ganlab.data.mixture.RingDataModule", "data.modes": 8,
                                 "data.radius": 1.0, "data.sigma": 0.01, **PACGAN_PROTOCOL}
PAPER_SETTINGS["pacgan_grid"] = {"data._target_": "ganlab.data.mixture.GridDataModule", "data.modes": 25,
                                 "data.radius": 4.0, "data.sigma": 0.05, **PACGAN_PROTOCOL}

ORTHOGONAL_08 = {"_target_": "torch.nn.init.orthogonal_", "_partial_": True, "gain": 0.8}
RELU = {"_target_": "torch.nn.ReLU", "_partial_": True}
PAPER_SETTINGS["unrolled_ring"] = {  # Metz et al. 2017, Figure 1 and Appendix A
    "data._target_": "ganlab.data.mixture.RingDataModule", "data.modes": 8, "data.radius": 2.0, "data.sigma": 0.02,
    "data.batch_size": 512, "model.latent_dim": 256, "latent._target_": "ganlab.latents.GaussianLatent",
    "model.generator._target_": "ganlab.networks.MLPGenerator", "model.generator.hidden": [128, 128],
    "model.generator.norm": None, "model.generator.tanh": False, "model.generator.activation": RELU,
    "model.generator.weight_init": ORTHOGONAL_08, "model.discriminator._target_": "ganlab.networks.MLPDiscriminator",
    "model.discriminator.hidden": [128], "model.discriminator.activation": RELU,
    "model.discriminator.weight_init": ORTHOGONAL_08, "model.discriminator.input_scale": 0.25,
    "model.discriminator.dropout": 0.0, "loss.objective._target_": "ganlab.losses.NonSaturatingLoss",
    "unrolled._target_": "ganlab.losses.unrolled.UnrolledLoss", "unrolled.steps": 10,
    "optim.generator._target_": "torch.optim.Adam", "loss.lr": 1e-4, "loss.betas": [0.5, 0.999],
    "loss.d_steps_per_g_step": 1, "iterations": 25_000}


def test_unrolled_ring_builds_the_papers_networks(tmp_path):
    """G: 256 -> 128 -> 128 -> 2 with ReLU; D: 2 (scaled by 1/4) -> 128 -> 1 with ReLU; orthogonal weights."""
    cfg = compose_preset("unrolled_ring", tmp_path)
    OmegaConf.resolve(cfg)
    module = build_module(cfg, (2,), 0)
    g_linears = [m for m in module.generator.modules() if isinstance(m, torch.nn.Linear)]
    d_linears = [m for m in module.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in g_linears] == [(128, 256), (128, 128), (2, 128)]
    assert [tuple(m.weight.shape) for m in d_linears] == [(128, 2), (1, 128)]
    relus = [m for m in [*module.generator.modules(), *module.discriminator.modules()] if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 3
    w = g_linears[1].weight.detach()
    torch.testing.assert_close(w @ w.T, 0.64 * torch.eye(128), atol=1e-5, rtol=0)
    x = torch.tensor([[4.0, -8.0]])
    first = d_linears[0]
    hidden = module.discriminator.body(x)  # ReLU(W x / 4 + b)
    torch.testing.assert_close(hidden, torch.relu(first(x / 4)))


def test_every_paper_preset_has_its_settings_checked():
    assert sorted(PAPER_SETTINGS) == PAPER_PRESETS


@pytest.mark.parametrize("name", sorted(PAPER_SETTINGS))
def test_preset_carries_the_papers_settings(tmp_path, name):
    cfg = compose_preset(name, tmp_path)
    for key, expected in PAPER_SETTINGS[name].items():
        value = OmegaConf.select(cfg, key)
        value = OmegaConf.to_object(value) if OmegaConf.is_config(value) else value
        assert value == expected, f"{name}: {key} = {value!r}, expected {expected!r}"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_at_full_size(tmp_path, name):
    cfg = compose_preset(name, tmp_path)
    OmegaConf.resolve(cfg)
    datamodule = instantiate(cfg.data)  # image_shape and num_classes are known before any file is read
    module = build_module(cfg, tuple(datamodule.image_shape), datamodule.num_classes)
    g_opt, d_opt = module.configure_optimizers()
    assert g_opt.param_groups[0]["lr"] == cfg.optim.generator.lr  # the loss's lr unless a preset sets G's own
    assert d_opt.param_groups[0]["lr"] == cfg.optim.discriminator.lr == cfg.loss.lr
    assert module.d_steps_per_g_step == cfg.loss.d_steps_per_g_step
    assert module.iterations == cfg.iterations
    assert module.generator.image_shape == tuple(datamodule.image_shape)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_a_tiny_budget(tmp_path, name):
    data_root, run_dir = tmp_path / "data", tmp_path / "run"
    cfg = compose_preset(name, run_dir, f"data.root={data_root}", "data.batch_size=8", "data.num_workers=0",
                         "trainer=cpu", "++trainer.enable_progress_bar=false", "logger=none",
                         "iterations=2", "log_every_n=1", "callbacks.sample_grid.num_samples=4")
    FAKE_DATA[cfg.data._target_](data_root)
    shrink(cfg)
    result = run(cfg)
    assert result["iterations"] == 2
    assert math.isfinite(result["final/loss_d"]) and math.isfinite(result["final/loss_g"])
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_mnist_infogan_reports_its_code_as_a_classifier_at_the_end(tmp_path):
    data_root, run_dir = tmp_path / "data", tmp_path / "run"
    cfg = compose_preset("mnist_infogan", run_dir, f"data.root={data_root}", "data.batch_size=8", "trainer=cpu",
                         "++trainer.enable_progress_bar=false", "logger=none", "iterations=3",
                         "callbacks.code_accuracy.every_n=2", "callbacks.sample_grid.num_samples=4")
    fake_mnist(data_root)
    shrink(cfg)
    result = run(cfg)
    saved = json.loads((run_dir / "metrics.json").read_text())
    for name in ("final/infogan_test_accuracy", "final/infogan_generated_agreement"):
        # at least the share of the largest class in the 20 test images (2 of each digit), at most all
        assert 0.1 <= result[name] == saved[name] <= 1.0


def test_mnist_began_reports_its_convergence_measure_and_halvings(tmp_path):
    data_root, run_dir = tmp_path / "data", tmp_path / "run"
    cfg = compose_preset("mnist_began", run_dir, f"data.root={data_root}", "data.batch_size=8", "trainer=cpu",
                         "++trainer.enable_progress_bar=false", "logger=none", "iterations=3",
                         "callbacks.lr_halving.window=1", "callbacks.sample_grid.num_samples=4")
    fake_mnist(data_root)
    shrink(cfg)
    result = run(cfg)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["final/lr_halvings"] == result["final/lr_halvings"] in (0.0, 1.0, 2.0)  # 3 windows: 2 decisions
    assert math.isfinite(saved["final/began/m_global_window"]) and saved["final/began/m_global_window"] > 0
