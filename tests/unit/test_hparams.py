"""The hparams tab's values: the option chosen in each config group and the values the command line
set, as the composed config has them; never the flattened `_target_` tree."""
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from ganlab import CONFIG_DIR
from ganlab.hparams import run_hparams, scalar


def test_choices_and_command_line_values():
    config = {"optim": {"generator": {"lr": 1e-3}}, "seed": 3, "model": {"generator": {"hidden": [16, 16]}},
              "trainer": {"enable_progress_bar": False}, "extra": {"key": None}}
    choices = {"model": "mlp", "loss": "wgan_gp", "ema": None, "callbacks/metrics": "modes",
               "hydra/launcher": "basic", "hydra": "default"}
    overrides = ["model=mlp", "callbacks/metrics=modes", "optim.generator.lr=1e-3", "seed=3",
                 "model.generator.hidden=[16,16]", "++trainer.enable_progress_bar=false", "+extra.key=null",
                 "~unused", "+gone=abc"]
    assert run_hparams(config, choices, overrides) == {
        "model": "mlp", "loss": "wgan_gp", "ema": "null", "callbacks/metrics": "modes",  # groups: their options
        "optim.generator.lr": 1e-3, "seed": 3,  # typed, from the composed config
        "model.generator.hidden": "[16, 16]", "trainer.enable_progress_bar": "false", "extra.key": "null",
        "gone": "abc",  # not in the config: the override's text
    }


def test_scalar_keeps_numbers_and_strings():
    assert [scalar(v) for v in (1, 2.5, "x", None, True, [1, 2], {"a": 1})] == [
        1, 2.5, "x", "null", "true", "[1, 2]", "{'a': 1}"]


def test_a_composed_run_gives_its_groups_not_its_target_tree(tmp_path):
    from ganlab.hparams import _existing

    overrides = ["data=digits", "model=mlp", "loss=hinge", "optim.generator.lr=0.0005"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir={tmp_path}"], return_hydra_config=True)
        choices = _existing(dict(cfg.hydra.runtime.choices))
    config = OmegaConf.to_container(cfg, resolve=False)
    params = run_hparams(config, choices, overrides)
    assert {"data": "digits", "model": "mlp", "loss": "hinge", "conditioning": "none", "latent": "gaussian",
            "optim": "adam", "experiment": "null", "optim.generator.lr": 0.0005}.items() <= params.items()
    assert "model_loss" not in params  # optional, and there is no mlp_hinge.yaml: nothing was chosen
    assert not any(k.startswith("hydra") or "_target_" in k for k in params), sorted(params)
    assert all(isinstance(v, (int, float, str)) for v in params.values())


def test_a_resumed_run_shows_the_choices_of_its_own_overrides(tmp_path):
    """`train.py ckpt_path=...` composes the defaults; the run it continues was `model=mlp loss=hinge`."""
    from hydra.core.hydra_config import HydraConfig

    from ganlab.hparams import hydra_run_hparams

    saved = ["data=digits", "model=mlp", "loss=hinge", "seed=2"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        command_line = compose("train", overrides=[f"paths.output_dir={tmp_path}"], return_hydra_config=True)
        HydraConfig.instance().set_config(command_line)
        try:
            resumed = hydra_run_hparams({"seed": 2}, saved, recompose=True)
            fresh = hydra_run_hparams({"seed": 2}, saved, recompose=False)
        finally:
            HydraConfig.instance().cfg = None
    assert (resumed["model"], resumed["loss"], resumed["data"], resumed["seed"]) == ("mlp", "hinge", "digits", 2)
    assert (fresh["model"], fresh["loss"]) == ("dcgan", "gan")  # what this command line alone composed
