"""No silent mis-pairing: every model x loss (x conditioning, latent, packing) found in conf/ either
builds a discriminator that really gives every part of the step what it needs, or is refused before
training with an error naming the model and the part (ganlab.build). A new YAML in any of these
groups is covered without editing this file.

What a discriminator gives is observed on a forward pass, not taken from its declaration: the test
also proves each discriminator's `provides` tells the truth."""
from itertools import product

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganlab import CONFIG_DIR
from ganlab.build import build_discriminator, build_module
from ganlab.config_checks import ConfigError
from ganlab.networks.infogan import InfoGANDiscriminator
from ganlab.networks.output import CLASS_LOGITS, CODES, FEATURES, PER_SAMPLE, RECONSTRUCTION, DOut
from ganlab.train import run

SHAPE = (1, 16, 16)
NUM_CLASSES = 3
N = 4  # samples per probe batch: a multiple of every pack size shipped


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


SMALL = {  # tiny widths, so that a build takes milliseconds
    "dcgan": ["model.generator.width=8", "model.discriminator.width=8"],
    "mlp": ["model.generator.hidden=[32,32]", "model.discriminator.hidden=[32,16]"],
    "resnet": ["model.generator.width=8", "model.discriminator.width=8"],
}


def compose_train(model: str, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=[f"model={model}", "model.latent_dim=8", "paths.output_dir=unused",
                                           *SMALL.get(model, []), *overrides])


def observed(out: DOut) -> set[str]:
    """What a discriminator's output on N samples actually carries."""
    found = {name for name, value in ((FEATURES, out.features), (CLASS_LOGITS, out.class_logits),
                                      (RECONSTRUCTION, out.reconstruction), (CODES, out.codes)) if value is not None}
    return found | ({PER_SAMPLE} if out.score.shape == (N,) else set())


def forward(discriminator) -> DOut:
    torch.manual_seed(0)
    with torch.no_grad():
        return discriminator.eval()(torch.rand(N, *SHAPE) * 2 - 1, torch.arange(N) % NUM_CLASSES)


def needs_of(cfg) -> set[str]:
    """Everything the step's parts need from D before InfoGAN's Q head (which itself adds the codes)."""
    nodes = [cfg.loss.objective, *cfg.conditioning.auxiliary.values(), *([cfg.infogan.loss] if cfg.get("infogan") else [])]
    needs = set().union(*(instantiate(node).needs for node in nodes))
    return needs - {CODES} | set(InfoGANDiscriminator.needs) if cfg.get("infogan") else needs


def check_composition(model: str, *overrides: str) -> str:
    """Builds model=`model` with `overrides`; returns 'built' or 'refused' after checking that either
    way the outcome is right."""
    cfg = compose_train(model, *overrides)
    try:
        module = build_module(cfg, SHAPE, NUM_CLASSES)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"model={model}") and " cannot serve " in message, message
        if "read no labels" in message:  # the family declares networks that take no labels
            assert cfg.model.get("conditional") is False and cfg.conditioning.uses_labels, message
            return "refused"
        # The refusal is real: the discriminator as built (before any Q head) lacks something a part needs.
        d = build_discriminator(cfg, SHAPE, NUM_CLASSES)
        if d.conditional:  # it reads a label with each sample: it must judge samples one by one
            assert PER_SAMPLE not in d.provides, message  # (a packed D cannot run on labels: checked on its own)
            return "refused"
        base = observed(forward(d))
        assert not needs_of(cfg) <= base, f"refused, but D gives {sorted(base)}: {message}"
        return "refused"
    out = forward(module.discriminator)
    seen = observed(out)
    assert module.discriminator.provides == seen, "a discriminator's `provides` must describe its output"
    for part in module.parts.values():
        assert part.needs <= seen, f"{type(part).__name__} needs {sorted(part.needs - seen)}, D does not give it"
    if RECONSTRUCTION in seen:  # the score is the reconstruction error, not a logit
        x = torch.rand(N, *SHAPE)  # any input: compare the energy with the reconstruction it came from
        with torch.no_grad():
            out = module.discriminator(x, torch.arange(N) % NUM_CLASSES)
        if PER_SAMPLE in seen and cfg.conditioning.name in ("none", "concat"):  # no projection/class term added
            error = (out.reconstruction - x).pow(2).flatten(1).mean(1)
            assert torch.allclose(out.score, error, atol=1e-5)
    return "built"


# Groups whose options change what D gives or what the step needs, besides the model and the loss.
D_GROUPS = {"conditioning": options("conditioning"), "latent": options("latent"), "packing": options("packing")}
SINGLE = [f"{group}={option}" for group, opts in D_GROUPS.items() for option in opts]


@pytest.mark.parametrize("model, loss", list(product(options("model"), options("loss"))))
def test_every_model_and_loss_pairs_or_is_refused(model, loss):
    check_composition(model, f"loss={loss}")


@pytest.mark.parametrize("model, option", list(product(options("model"), SINGLE)))
def test_every_model_and_step_option_pairs_or_is_refused(model, option):
    check_composition(model, option)


@pytest.mark.slow
@pytest.mark.parametrize("model, loss, conditioning, latent, packing",
                         list(product(options("model"), options("loss"), D_GROUPS["conditioning"],
                                      D_GROUPS["latent"], [None, *D_GROUPS["packing"]])))
def test_every_combination_pairs_or_is_refused(model, loss, conditioning, latent, packing):
    check_composition(model, f"loss={loss}", f"conditioning={conditioning}", f"latent={latent}",
                      *([f"packing={packing}"] if packing else []))


@pytest.mark.parametrize("loss", ["began", "ebgan"])
def test_energy_losses_get_each_familys_autoencoder(loss):
    for model in options("model"):
        if "autoencoder" not in (OmegaConf.load(CONFIG_DIR / "model" / f"{model}.yaml").get("variants") or {}):
            assert check_composition(model, f"loss={loss}") == "refused", model  # no autoencoder declared
            continue
        assert check_composition(model, f"loss={loss}") == "built"
        module = build_module(compose_train(model, f"loss={loss}"), SHAPE, 0)
        assert RECONSTRUCTION in module.discriminator.provides, model
    assert type(build_module(compose_train("pacgan", f"loss={loss}"), SHAPE, 0).discriminator).__name__ == \
        "PacGANAutoencoder"


def test_a_model_without_an_autoencoder_is_refused_for_began():
    """A family that declares no autoencoder variant gets its plain (logit) discriminator, which the
    pairing check refuses for BEGAN, naming the model, the loss and the families that have one."""
    with pytest.raises(ConfigError) as error:
        build_module(compose_train("pacgan", "loss=began", "~model.variants.autoencoder"), SHAPE, 0)
    assert str(error.value) == (
        "model=pacgan cannot serve loss=began: BoundaryEquilibriumLoss needs a discriminator that gives a "
        "reconstruction, its score being the reconstruction error (an autoencoder discriminator), and "
        "PacGANDiscriminator does not; model=pacgan declares no `autoencoder` discriminator "
        "(model.variants.autoencoder); use model=dcgan|mlp|pacgan|resnet")


@pytest.mark.parametrize("option, part", [("conditioning=acgan", "conditioning=acgan"),
                                          ("latent=infogan", "infogan.q_head")])
def test_packing_refuses_per_sample_parts(option, part):
    with pytest.raises(ConfigError, match=rf"^model=mlp with packing \(packing.samples=2\) cannot serve {part}: "
                                          r".*use it without packing"):
        build_module(compose_train("mlp", "packing=pacgan", option), SHAPE, NUM_CLASSES)


def test_the_wgan_gp_critic_has_no_batchnorm():
    for model in options("model"):
        module = build_module(compose_train(model, "loss=wgan_gp"), SHAPE, 0)
        norms = [m for m in module.discriminator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert not norms, model


def test_pacgan_trains_began_with_its_autoencoder(tmp_path):
    """`python train.py model=pacgan loss=began data=ring iterations=3`, in-process."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=pacgan", "loss=began", "data=ring", "iterations=3", "logger=none",
                                          "trainer=cpu", "++trainer.enable_progress_bar=false", "data.size=600",
                                          f"paths.output_dir={tmp_path}", "callbacks.sample_grid.num_samples=4"])
    result = run(cfg)
    assert result["iterations"] == 3


def test_a_new_trick_is_a_part_under_step_with_no_code_change():
    """Any StepPart placed at `step.<name>` (a trick's YAML does it with `# @package step.<name>`) joins
    the step after the shipped parts: here instance noise, given by overrides alone."""
    cfg = compose_train("mlp", "+step.noise._target_=ganlab.augment.InstanceNoise", "+step.noise.std=0.5",
                        "+step.noise.anneal_iterations=10", "regularizer=r1")
    module = build_module(cfg, SHAPE, 0)
    assert list(module.parts) == ["loss", "loss.regularizers.r1", "step.noise"]
    x = torch.zeros(N, *SHAPE)
    assert not torch.equal(module._augmented(x), x)  # D's inputs go through it
