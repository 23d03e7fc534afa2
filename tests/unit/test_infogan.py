"""InfoGAN's parts in the step: the Q head on every discriminator family, the mutual-information
term in D's and G's steps (what each one trains), the traversal grids, and a short fit."""
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlab import CONFIG_DIR
from ganlab.latents import InfoGANLatent, UniformLatent
from ganlab.losses.mutual_information import MutualInformationLoss
from ganlab.module import GANModule
from ganlab.names import D_INFO, G_INFO
from ganlab.networks import DCGANDiscriminator, MLPAutoencoder, MLPDiscriminator, ResNetDiscriminator
from ganlab.networks.infogan import InfoGANDiscriminator, QHead, feature_size
from ganlab.step import DiscriminatorStep, GeneratorStep
from ganlab.build import build_module

from helpers import ToyData, ToyGenerator, compose_config, fit_module

SHAPE = (1, 16, 16)
FAMILIES = {
    "mlp": lambda: MLPDiscriminator(SHAPE, hidden=[32, 16]),
    "dcgan": lambda: DCGANDiscriminator(SHAPE, width=8),
    "resnet": lambda: ResNetDiscriminator(SHAPE, width=8),
    "mlp_autoencoder": lambda: MLPAutoencoder(SHAPE, hidden=[32, 16]),
    "dcgan_projection": lambda: DCGANDiscriminator(SHAPE, width=8, num_classes=3, projection=True),
}


def q_head(**kwargs):
    return lambda features: QHead(features, categorical=[5, 3], continuous=2, hidden=16, **kwargs)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_q_head_reads_the_features_of_every_family(family):
    torch.manual_seed(0)
    inner = FAMILIES[family]()
    d = InfoGANDiscriminator(inner, q_head(), SHAPE)
    x = torch.rand(6, *SHAPE) * 2 - 1
    y = torch.randint(0, 3, (6,)) if d.conditional else None
    out = d.eval()(x, y)
    plain = inner(x, y)
    assert torch.equal(out.score, plain.score) and torch.equal(out.features, plain.features)  # passes through
    assert [t.shape for t in out.codes.categorical_logits] == [(6, 5), (6, 3)]
    assert out.codes.mean.shape == out.codes.log_std.shape == (6, 2)
    assert set(d.q_head.parameters()) <= set(d.parameters())  # Q trains with D's optimiser


def test_finding_the_feature_size_leaves_the_discriminator_as_it_was():
    torch.manual_seed(0)
    d = DCGANDiscriminator(SHAPE, width=8, spectral_norm=True).train()
    before = {k: v.clone() for k, v in d.state_dict().items()}  # BatchNorm statistics, spectral-norm vectors
    assert feature_size(d, SHAPE) == 16 * 4 * 4
    assert d.training and all(torch.equal(before[k], v) for k, v in d.state_dict().items())


def infogan_parts(seed: int = 0):
    torch.manual_seed(seed)
    latent = InfoGANLatent(UniformLatent(4), categorical=[5], continuous=2)
    generator = ToyGenerator(side=16, latent_dim=latent.input_dim)
    discriminator = InfoGANDiscriminator(MLPDiscriminator(SHAPE, hidden=[32, 16]), q_head=lambda f: QHead(
        f, categorical=[5], continuous=2, hidden=16), image_shape=SHAPE)
    return latent, generator, discriminator


def test_the_d_side_term_trains_q_and_d_and_never_g():
    latent, generator, discriminator = infogan_parts()
    sample = latent.sample(8)
    fake = generator(sample.z)
    real = torch.rand(8, *SHAPE) * 2 - 1
    step = DiscriminatorStep(discriminator, real, fake.detach(), None, d_real=discriminator(real),
                             d_fake=discriminator(fake.detach()), index=0, codes=sample.codes)
    terms = MutualInformationLoss().discriminator_terms(step)
    assert list(terms) == [D_INFO] and terms[D_INFO].dim() == 0
    terms[D_INFO].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.q_head.parameters())
    assert all(p.grad is not None for p in discriminator.discriminator.body.parameters())  # the shared body
    assert all(p.grad is None for p in discriminator.discriminator.head.parameters())  # not the score head
    assert all(p.grad is None for p in generator.parameters())
    reported = MutualInformationLoss().discriminator_step_done(step)
    assert set(reported) == {"infogan/categorical", "infogan/continuous"}


def test_the_g_side_term_reaches_g_through_a_frozen_q():
    latent, generator, discriminator = infogan_parts()
    sample = latent.sample(8)
    fake = generator(sample.z)
    discriminator.requires_grad_(False)
    step = GeneratorStep(discriminator, torch.zeros(8, *SHAPE), fake, None, d_fake=discriminator(fake), index=0,
                         codes=sample.codes)
    terms = MutualInformationLoss().generator_terms(step)
    assert list(terms) == [G_INFO]
    terms[G_INFO].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())


def test_without_codes_or_q_the_term_says_what_is_missing():
    latent, generator, discriminator = infogan_parts()
    sample = latent.sample(4)
    out = discriminator.discriminator(generator(sample.z))  # no Q head: DOut.codes is None
    with pytest.raises(ValueError, match="latent=infogan wraps the discriminator"):
        MutualInformationLoss()(out.codes, sample.codes)
    with pytest.raises(ValueError, match="use latent=infogan"):
        MutualInformationLoss()(discriminator(generator(sample.z)).codes, None)


def test_a_generator_of_another_input_size_is_refused():
    latent, _, discriminator = infogan_parts()
    with pytest.raises(ValueError, match="latent_dim=latent.input_dim"):
        GANModule(ToyGenerator(side=16, latent_dim=4), discriminator, MutualInformationLoss(),
                  lambda p: torch.optim.Adam(p), lambda p: torch.optim.Adam(p), latent=latent)


def test_the_config_builds_g_for_the_latent_and_wraps_d(tmp_path):
    cfg = compose_config("latent=infogan", "model.latent_dim=6", "latent.categorical=[4]", "latent.continuous=1",
                         "model.generator.width=8", "model.discriminator.width=8", output_dir=tmp_path)
    module = build_module(cfg, image_shape=SHAPE, num_classes=0)
    assert module.latent.input_dim == module.generator.latent_dim == 6 + 4 + 1
    assert isinstance(module.discriminator, InfoGANDiscriminator)
    assert any(isinstance(part, MutualInformationLoss) for part in module.parts.values())
    plain = build_module(compose_config("model.generator.width=8", "model.discriminator.width=8",
                                        output_dir=tmp_path), image_shape=SHAPE, num_classes=0)
    assert not isinstance(plain.discriminator, InfoGANDiscriminator) and plain.generator.latent_dim == 100


def test_a_short_fit_logs_the_terms_and_writes_a_traversal_per_code(tmp_path):
    from ganlab.callbacks import SampleGrid

    cfg = compose_config("latent=infogan", "model.latent_dim=4", "latent.categorical=[3]", "latent.continuous=1",
                         "model.generator.width=4", "model.discriminator.width=4", "infogan.q_head.hidden=8",
                         output_dir=tmp_path)
    module = build_module(cfg, image_shape=SHAPE, num_classes=0)
    module.iterations = 2
    grid = SampleGrid(str(tmp_path / "samples"), every_n=2, num_samples=4, interpolation_rows=0,
                      traversal_columns=2, traversal_steps=3, truncation=0.5)
    trainer = fit_module(module, ToyData(n=32, side=16), callbacks=[grid])
    assert {"loss_d_info", "loss_g_info"} <= set(trainer.callback_metrics)
    written = sorted(p.name for p in Path(tmp_path / "samples").iterdir())
    assert written == ["iter_0000002.png", "traversal_categorical_0.png", "traversal_continuous_0.png"]
    from PIL import Image

    categorical = Image.open(tmp_path / "samples" / "traversal_categorical_0.png")
    assert categorical.size == (2 + 2 * (16 + 2), 2 + 3 * (16 + 2))  # 2 columns of noise x 3 categories (padding 2)


def test_sample_py_rebuilds_an_infogan_generator_and_truncates(tmp_path):
    import numpy as np

    from ganlab.sample import sample
    from ganlab.train import run

    cfg = compose_config("data=digits", "data.image_size=16", "data.batch_size=8", "trainer=cpu", "logger=none",
                         "++trainer.enable_progress_bar=false", "iterations=1", "latent=infogan", "model.latent_dim=4",
                         "model.generator.width=4", "model.discriminator.width=4",
                         "callbacks.sample_grid.num_samples=4",
                         output_dir=tmp_path / "run")
    run(cfg)
    sample_cfg = compose_config(f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", "num_samples=8",
                                f"out={tmp_path / 's.npz'}", "truncation=0.5", "device=cpu", config_name="sample")
    sample(sample_cfg)
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (8, 16, 16, 1) and x.dtype == np.uint8
