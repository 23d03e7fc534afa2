"""The real config, composed as train.py / sample.py compose it: one helper for every test."""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from ganlab import CONFIG_DIR

CONF = CONFIG_DIR


def options(group: str) -> list[str]:
    """The options of a config group: conf/<group>/*.yaml, sorted."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose_config(*overrides: str, output_dir: str | Path | None = None, config_name: str = "train",
                   resolve: bool = False, hydra_config: bool = False,
                   config_dir: str | Path = CONF) -> DictConfig:
    """conf/<config_name>.yaml with `overrides`; outputs below `output_dir` (paths.output_dir);
    `resolve`: interpolations resolved; `hydra_config`: with the `hydra` node (as train.py sees it)."""
    GlobalHydra.instance().clear()
    extra = [f"paths.output_dir={output_dir}"] if output_dir is not None else []
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name, overrides=[*overrides, *extra], return_hydra_config=hydra_config)
    if resolve:
        OmegaConf.resolve(cfg)
    return cfg
