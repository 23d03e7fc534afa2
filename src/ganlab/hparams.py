"""The TensorBoard hyper-parameters tab: what each run chose, with its final metrics to sort runs by.

A run's hyper-parameters are the option it chose in each config group (`model: dcgan`, `loss: wgan_gp`,
`experiment: mnist_gan`: Hydra's `hydra.runtime.choices`) and the values its command line set
(`optim.generator.lr: 0.0001`, `seed: 1`: Hydra's `hydra.overrides.task`, as the composed config has
them), not every leaf of the config: the columns are the ones a user picked runs by.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytorch_lightning.loggers import Logger, TensorBoardLogger

NULL = "null"  # an empty group (`ema: null`), as the command line writes it


def flatten(tree: Mapping[str, Any], separator: str = "/", prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1} (or "a.b" with separator="."); the leaves are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, separator, prefix=f"{name}{separator}"))
        else:
            flat[name] = value
    return flat


def scalar(value: Any) -> bool | int | float | str:
    """A value TensorBoard's hparams tab takes: numbers and strings as they are; None, booleans and
    anything else (lists, dicts) as the command line writes them ("null", "true", "[16, 16]")."""
    if value is None:
        return NULL
    if isinstance(value, bool):  # TensorBoard would show a number
        return "true" if value else "false"
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def run_hparams(config: Mapping[str, Any], choices: Mapping[str, str | None],
                overrides: Sequence[str]) -> dict[str, bool | int | float | str]:
    """The hyper-parameters of a run: `choices` (config group -> chosen option; Hydra's own groups
    `hydra/...` left out) and the keys the command-line `overrides` set, each with its value in the
    composed `config` (the override's text where the config has no such key). A group override
    (`loss=hinge`) is its group's choice; a deletion (`~key`) sets nothing."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = {group: scalar(option) for group, option in choices.items()
              if group != "hydra" and not group.startswith("hydra/")}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete() or key in choices or key.startswith("hydra."):
            continue
        found, value = _select(config, key)
        params[key] = scalar(value if found else override.get_value_element_as_str())
    return params


def hydra_run_hparams(config: Mapping[str, Any], overrides: Sequence[str], recompose: bool = False
                      ) -> dict[str, bool | int | float | str]:
    """run_hparams of the running Hydra app: its runtime choices, or with `recompose` (a resumed run,
    whose config comes from the checkpoint's overrides, not from this command line) the choices those
    `overrides` compose to. Outside a Hydra app (a test calling run()): the overrides only."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return run_hparams(config, {}, overrides)
    if recompose:
        from hydra import compose

        composed = compose(config_name=HydraConfig.get().job.config_name, overrides=list(overrides),
                           return_hydra_config=True)
        choices = dict(composed.hydra.runtime.choices)
    else:
        choices = dict(HydraConfig.get().runtime.choices)
    return run_hparams(config, _existing(choices), overrides)


def _existing(choices: Mapping[str, str | None]) -> dict[str, str | None]:
    """The choices of groups with a config file for them: an optional default whose file does not
    exist (a defaults entry `optional group: ${...}` whose interpolated option has no file) was not
    chosen, though Hydra lists it."""
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        return dict(choices)
    loader = GlobalHydra.instance().config_loader()
    return {group: option for group, option in choices.items()
            if option is None or group.startswith("hydra") or option in loader.get_group_options(group)}


def _select(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def declare_hparams(loggers: Iterable[Logger], params: Mapping[str, bool | int | float | str],
                    metrics: list[str]) -> None:
    """Writes the run's hyper-parameters `params` and declares `metrics` as the hparams tab's columns;
    the values come from the scalars of the same names logged later (no placeholder values)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            from torch.utils.tensorboard.summary import hparams

            experiment, start, end = hparams(dict(params), {name: 0.0 for name in metrics})
            writer = logger.experiment._get_file_writer()
            for summary in (experiment, start, end):
                writer.add_summary(summary)
        else:
            logger.log_hyperparams(dict(params))
