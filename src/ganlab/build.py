"""Building the objects a config describes, shared by training (ganlab.train) and sampling
(ganlab.sample): the latent, G, D, the parts of the step and the GANModule. Nothing here runs anything.

Pairing: a part of the step declares what it needs from the discriminator (`StepPart.needs`:
a reconstruction for EBGAN and BEGAN, class logits for AC-GAN, Q's codes for InfoGAN, one output
per sample, ...) and every discriminator says what it provides (`Discriminator.provides`). A loss
may ask the model for a variant of its discriminator (`loss.discriminator_variant`, e.g.
`autoencoder`), which the model family declares as changes to its discriminator (`model.variants`).
`build_module` builds D, then refuses, before any training, a part whose needs D lacks, naming the
model and the part.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ganlab import CONFIG_DIR, checks
from ganlab.config_checks import ConfigError
from ganlab.latents import GaussianLatent, Latent
from ganlab.module import GANModule
from ganlab.networks.infogan import InfoGANDiscriminator
from ganlab.networks.output import CLASS_LOGITS, OUTPUTS, PER_SAMPLE, Generator


def build_latent(cfg: DictConfig) -> Latent:
    """The latent distribution G reads (conf/latent/); a config without `latent` (a checkpoint
    written before the group existed) reads N(0, I) of size model.latent_dim."""
    return instantiate(cfg.latent) if cfg.get("latent") else GaussianLatent(cfg.model.latent_dim)


def build_generator(cfg: DictConfig, image_shape: tuple[int, ...], num_classes: int) -> tuple[Generator, Latent]:
    """G and the latent distribution it reads: G's input size is the latent's `input_dim`
    (model.latent_dim, plus the codes of latent=infogan)."""
    latent = build_latent(cfg)
    generator = instantiate(cfg.model.generator, image_shape=image_shape, num_classes=num_classes,
                            latent_dim=latent.input_dim)
    return generator, latent


def discriminator_config(cfg: DictConfig) -> DictConfig:
    """model.discriminator, with the changes of the model's variant the loss asks for
    (`loss.discriminator_variant`, e.g. `autoencoder`) where the model declares one (`model.variants`);
    the plain discriminator otherwise (whether it serves the loss is checked once it is built)."""
    config = OmegaConf.create(OmegaConf.to_container(cfg.model.discriminator, resolve=True))
    variant = cfg.loss.get("discriminator_variant")
    changes = (cfg.model.get("variants") or {}).get(variant) if variant else None
    if changes is None:
        return config
    return OmegaConf.merge(config, OmegaConf.to_container(changes, resolve=True))


def build_discriminator(cfg: DictConfig, image_shape: tuple[int, ...], num_classes: int):
    """D as the model, the loss's variant and packing=... describe it (before InfoGAN's Q head)."""
    config = discriminator_config(cfg)

    def discriminator_for(shape: tuple[int, ...]):
        return instantiate(config, image_shape=shape, num_classes=num_classes)

    if cfg.get("packing"):  # packing=pacgan: D of packed samples
        with checks.under("packing"):
            return instantiate(cfg.packing)(discriminator_for, image_shape)
    return discriminator_for(image_shape)


# Where the step's parts are in the config, in the order the step runs them after the objective: a
# key that holds one part, or `<key>.*`, a mapping name -> part. A new trick's YAML adds its part as
# `step.<name>` (`# @package step.<name>`): neither this file nor module.py changes for it.
PART_LOCATIONS = ("conditioning.auxiliary.*", "infogan.loss", "loss.regularizers.*", "loss.constraints.*",
                  "augment", "instance_noise", "step.*")


def part_configs(cfg: DictConfig) -> dict[str, DictConfig]:
    """config key -> node of every part of the step besides the objective, in PART_LOCATIONS' order."""
    nodes: dict[str, DictConfig] = {}
    for location in PART_LOCATIONS:
        key = location.removesuffix(".*")
        node = OmegaConf.select(cfg, key, default=None)
        if node is None:
            continue
        if location.endswith(".*"):
            nodes.update({f"{key}.{name}": part for name, part in node.items() if part is not None})
        else:
            nodes[key] = node
    return nodes


def optional(cfg: DictConfig, key: str) -> Any:
    """The object at `key`, or None where the config has none there."""
    node = OmegaConf.select(cfg, key, default=None)
    return None if node is None else instantiate(node)


def build_module(cfg: DictConfig, image_shape: tuple[int, ...], num_classes: int) -> GANModule:
    """The GANModule the config describes, for samples of `image_shape`; a ConfigError before anything
    trains when D cannot give a part of the step what it needs."""
    check_family_reads_labels(cfg)
    generator, latent = build_generator(cfg, image_shape, num_classes)
    discriminator = build_discriminator(cfg, image_shape, num_classes)
    if cfg.get("infogan"):  # latent=infogan: Q's head on D's features (its term is a part: infogan.loss)
        check_pairing(cfg, discriminator, {"infogan.q_head": InfoGANDiscriminator})
        discriminator = InfoGANDiscriminator(discriminator, instantiate(cfg.infogan.q_head), image_shape)
    if discriminator.conditional:  # conditioning=concat|projection: D reads a label with every sample
        check_pairing(cfg, discriminator, {"conditioning": LabelConditioning})
    objective = instantiate(cfg.loss.objective)
    parts = {key: instantiate(node) for key, node in part_configs(cfg).items()}
    check_pairing(cfg, discriminator, {"loss.objective": objective, **parts})
    with checks.under("unrolled"):  # unrolled=default: G's loss through D's look-ahead, for any objective
        loss = instantiate(cfg.unrolled)(objective) if cfg.get("unrolled") else objective
    with checks.under("ema"):
        generator_ema = instantiate(cfg.ema)(generator) if cfg.get("ema") else None
    return GANModule(
        generator=generator,
        discriminator=discriminator,
        latent=latent,
        loss=loss,
        generator_optimizer=instantiate(cfg.optim.generator),
        discriminator_optimizer=instantiate(cfg.optim.discriminator),
        parts=parts,
        generator_ema=generator_ema,
        d_steps_per_g_step=cfg.loss.d_steps_per_g_step,
        iterations=cfg.iterations,
        num_classes=num_classes,
        log_every_n=cfg.log_every_n,
        detect_divergence=cfg.get("detect_divergence", True),
        generator_schedule=optional(cfg, "scheduler.generator"),
        discriminator_schedule=optional(cfg, "scheduler.discriminator"),
        d_loss_watch=optional(cfg, "diagnostics"),
    )


# --- pairing ------------------------------------------------------------------------------------------
class LabelConditioning:
    """A discriminator that reads labels (concat, projection) reads one with each sample."""

    needs = frozenset({PER_SAMPLE})


def check_family_reads_labels(cfg: DictConfig) -> None:
    """A model family that declares `conditional: false` (networks that read no labels, e.g. a paper's
    unconditional networks) is refused for a conditioning that needs them, before any network is built."""
    if cfg.model.get("conditional", True) is False and cfg.conditioning.get("uses_labels", False):
        raise ConfigError(f"model={cfg.model.get('name', '?')} cannot serve conditioning={cfg.conditioning.name}: "
                          "its networks read no labels (model.conditional=false); use conditioning=none, or a "
                          "family that reads them (model=dcgan|mlp|resnet)")


def check_pairing(cfg: DictConfig, discriminator: Any, parts: Mapping[str, Any]) -> None:
    """Raises ConfigError, naming the model and the part, for the first part (config key -> object
    with `needs`) whose needs the discriminator does not provide."""
    provides = frozenset(getattr(discriminator, "provides", frozenset()))
    for key, part in parts.items():
        missing = [need for need in sorted(getattr(part, "needs", ())) if need not in provides]
        if missing:
            raise ConfigError(f"{served_by(cfg)} cannot serve {choice(cfg, key)}: {type_name(part)} needs a "
                              f"discriminator that gives {OUTPUTS.get(missing[0], missing[0])}, and "
                              f"{type(discriminator).__name__} does not; {remedy(cfg, missing[0])}")


def type_name(part: Any) -> str:
    return part.__name__ if isinstance(part, type) else type(part).__name__


def choice(cfg: DictConfig, key: str) -> str:
    """How the user chose what `key` belongs to: `loss=began` when its group names itself (`name:`),
    else the config key."""
    name = OmegaConf.select(cfg, f"{key.split('.')[0]}.name", default=None)
    return f"{key.split('.')[0]}={name}" if name else key


def served_by(cfg: DictConfig) -> str:
    served = choice(cfg, "model.discriminator")
    variant = cfg.loss.get("discriminator_variant")
    if variant and variant in (cfg.model.get("variants") or {}):
        served += f" (its {variant} discriminator)"
    if cfg.get("packing"):
        served += f" with packing (packing.samples={cfg.packing.samples})"
    return served


def remedy(cfg: DictConfig, need: str) -> str:
    """What the user can do about a missing output."""
    if cfg.get("packing") and need in (PER_SAMPLE, CLASS_LOGITS):  # what packing takes away
        return "use it without packing (remove packing=...): a packed discriminator scores packs of samples"
    variant = cfg.loss.get("discriminator_variant")
    if variant and variant not in (cfg.model.get("variants") or {}):
        families = "|".join(models_with_variant(variant)) or "a model with one"
        return (f"{choice(cfg, 'model')} declares no `{variant}` discriminator (model.variants.{variant}); "
                f"use model={families}")
    return "choose a model and discriminator options that provide it"


def models_with_variant(variant: str) -> list[str]:
    """The shipped model families (conf/model/) that declare the discriminator variant `variant`."""
    return [path.stem for path in sorted((CONFIG_DIR / "model").glob("*.yaml"))
            if variant in (OmegaConf.load(path).get("variants") or {})]
