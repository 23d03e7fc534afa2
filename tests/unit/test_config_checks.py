"""Every value a user can type is checked before any work (config_checks.TRAIN_SCHEMA / SAMPLE_SCHEMA),
a GPU asked for on a machine without one says what to use instead, and a misspelt key names the
closest key that exists."""
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganlab import CONFIG_DIR
from ganlab import checks, config_checks
from ganlab.cli import CheckOutputDir, check_command_line, report_errors
from ganlab.config_checks import (SAMPLE_SCHEMA, ConfigError, check_accelerator, check_config, check_labels,
                                  check_values, check_writable_dir)
from ganlab.build import build_module

from helpers import compose_config
from helpers import compose_config as compose_train

UNWRITABLE = "/proc/ganlab_test/run"  # root ignores permission bits; /proc refuses new entries even to root

CONF = CONFIG_DIR


@pytest.mark.parametrize("overrides, message", [
    (["seed=-1"], "seed must be an integer in [0, 4294967295], got -1"),
    (["seed=abc"], "seed must be an integer in [0, 4294967295], got 'abc'"),
    (["seed=1.5"], "seed must be an integer in [0, 4294967295], got 1.5"),
    (["model.latent_dim=0"], "model.latent_dim must be a positive integer, got 0"),
    (["model.generator.width=0"], "model.generator.width must be a positive integer, got 0"),
    (["model.discriminator.width=-3"], "model.discriminator.width must be a positive integer, got -3"),
    (["model=mlp", "model.generator.hidden=[64,0]"], "model.generator.hidden must be a non-empty list of positive"),
    (["model=mlp", "model.discriminator.hidden=[]"], "model.discriminator.hidden must be a non-empty list"),
    (["model=mlp", "model.discriminator.dropout=1.0"], "model.discriminator.dropout must be a number in [0, 1)"),
    (["optim.generator.betas=[0.5,1.5]"], "optim.generator.betas must be two numbers in [0, 1)"),
    (["optim.discriminator.lr=abc"], "optim.discriminator.lr must be a positive number, got 'abc'"),
    (["detect_divergence=maybe"], "detect_divergence must be true or false, got 'maybe'"),
    (["trainer.devices=0"], "trainer.devices must be a positive integer, -1 (all), 'auto'"),
    (["trainer.accelerator=gpux"], "trainer.accelerator must be one of auto, cpu, gpu"),
])
def test_a_bad_value_names_the_key_and_what_is_allowed(overrides, message):
    with pytest.raises(ConfigError) as error:
        check_config(compose_config(*([] if any(o.startswith("data=") for o in overrides) else ["data=digits"]), *overrides))
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("overrides, message", [
    (["loss=wgan_gp", "loss.regularizers.gradient_penalty.weight=-1"],
     "loss.regularizers.gradient_penalty.weight must be a non-negative number, got -1"),
    (["loss.objective.label_smoothing=1.5"], "loss.objective.label_smoothing must be a number in [0, 1), got 1.5"),
    (["loss=ebgan", "loss.objective.margin=0"], "loss.objective.margin must be a positive number, got 0"),
    (["loss=wgan_clip", "loss.constraints.weight_clip.clip_value=0"],
     "loss.constraints.weight_clip.clip_value must be a positive number, got 0"),
    (["conditioning=acgan", "conditioning.auxiliary.class_loss.weight=-1"],
     "conditioning.auxiliary.class_loss.weight must be a non-negative number, got -1"),
    (["regularizer=r1", "loss.regularizers.r1.every_n=0"], "loss.regularizers.r1.every_n must be a positive integer"),
    (["ema=default", "ema.decay=1.0"], "ema.decay must be a number in [0, 1), got 1.0"),
    (["latent=infogan", "latent.continuous=-1"], "latent.continuous must be an integer >= 0, got -1"),
    (["latent=infogan", "infogan.loss.continuous_weight=-0.1"],
     "infogan.loss.continuous_weight must be a non-negative number, got -0.1"),
    (["unrolled=default", "unrolled.steps=-1"], "unrolled.steps must be an integer >= 0, got -1"),
    (["instance_noise=default", "instance_noise.std=-1"], "instance_noise.std must be a non-negative number, got -1"),
    (["scheduler=linear_decay", "scheduler.generator.total=0"], "scheduler.generator.total must be a positive integer"),
    (["loss=lsgan", "loss.objective.a=1"], "loss.objective (LeastSquaresLoss): the real label b and the fake label a "
                                           "must differ, got a = b = 1"),
])
def test_a_value_a_constructor_refuses_names_its_config_key_once(overrides, message, capsys):
    """Values the objects check themselves (ganlab.checks): the error names the config key, once."""
    cfg = compose_config("data=digits", *overrides)
    check_config(cfg)  # not the schema's: the constructor's
    with pytest.raises(SystemExit) as exit_info:
        report_errors(build_module, cfg, (1, 28, 28), 10 if cfg.conditioning.uses_labels else 0)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")


# Every option of every config group (callbacks/<name>/ included), found on disk: a new option is checked too.
SKIP_GROUPS = {"hydra", "paths", "hparams_search"}  # Hydra's own, or picked by the others
OPTIONS = sorted((str(p.parent.relative_to(CONF)), p.stem) for p in CONF.glob("*/**/*.yaml")
                 if p.parent.relative_to(CONF).parts[0] not in SKIP_GROUPS and p.parent != CONF / "callbacks")


@pytest.mark.parametrize("group, option", OPTIONS)
def test_every_shipped_option_passes_the_checks(group, option, monkeypatch):
    """The schema refuses no value a shipped config file sets."""
    monkeypatch.setattr(config_checks, "gpu_available", lambda: True)  # GPU presets compose on any machine
    try:
        cfg = compose_config(f"{group}={option}")
    except ConfigCompositionException as error:  # a group outside train.yaml's defaults list: appended
        if "No match in the defaults list" not in str(error):
            raise
        try:
            cfg = compose_config(f"+{group}={option}")
        except ConfigCompositionException as error:  # whether every option composes: tests/config
            pytest.skip(f"{group}={option} does not compose on its own: {str(error).splitlines()[0]}")
    check_config(cfg)


def test_gpu_on_a_machine_without_one_says_what_to_use(monkeypatch):
    monkeypatch.setattr(config_checks, "gpu_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^trainer.accelerator=gpu: this machine has no GPU .*use trainer=cpu"):
        check_config(compose_config("trainer=gpu"))
    with pytest.raises(ConfigError, match=r"^device=cuda: this machine has no GPU .*use device=cpu"):
        check_accelerator("cuda", "device")
    check_config(compose_config("trainer=cpu"))
    check_config(compose_config("trainer=default"))  # accelerator=auto: whatever is there
    monkeypatch.setattr(config_checks, "gpu_available", lambda: True)
    check_config(compose_config("trainer=gpu"))


@pytest.mark.parametrize("values, message", [
    ({"num_samples": 0}, "num_samples must be a positive integer, got 0"),
    ({"num_samples": "many"}, "num_samples must be a positive integer, got 'many'"),
    ({"seed": -1}, "seed must be an integer in [0, 4294967295], got -1"),
    ({"mode": "interp"}, "mode must be one of samples, interpolate, got 'interp'"),
    ({"weights": "yes"}, "weights must be one of auto, ema, trained, got 'yes'"),
    ({"labels": 3.5}, "labels must be a class index or a list of them, e.g. labels=3 or labels=[0,1,2], got 3.5"),
    ({"labels": [0, 1.5]}, "labels must be a class index or a list of them"),
    ({"device": "gpu"}, "device must be auto, cpu, cuda or cuda:<index>, got 'gpu'"),
    ({"interpolation": {"seeds": [0], "steps": 10}}, "interpolation.seeds must be a list of at least 2 integers"),
    ({"interpolation": {"seeds": [0, 1], "steps": 1}}, "interpolation.steps must be an integer >= 2, got 1"),
    ({"ckpt_path": None}, "ckpt_path is required"),
])
def test_sample_values_are_checked(values, message):
    config = {"ckpt_path": "x.ckpt", "mode": "samples", "weights": "auto", "num_samples": 4, "seed": 0, "batch_size": 8,
              "grid_size": 4, "out": None, "device": "auto", "interpolation": {"seeds": [0, 1], "steps": 3}}
    config.update(values)
    with pytest.raises(ConfigError) as error:
        check_values(config, SAMPLE_SCHEMA, required={"ckpt_path"})
    assert str(error.value).startswith(message)


def test_sample_defaults_pass_the_checks():
    cfg = compose_config("ckpt_path=x.ckpt", config_name="sample")
    check_values(cfg, SAMPLE_SCHEMA, required={"ckpt_path"})


@pytest.mark.parametrize("config_name, args, suggestion", [
    ("train", ["data=digits", "optim.generator.lrr=1"], "optim.generator.lrr is not a config key; did you mean "
                                                       "optim.generator.lr?"),
    ("train", ["iteration=5"], "iteration is not a config key; did you mean iterations?"),
    ("train", ["model=mlp", "model.generator.widht=3"], "model.generator.widht is not a config key"),
    ("sample", ["nun_samples=3"], "nun_samples is not a config key; did you mean num_samples?"),
])
def test_a_misspelt_key_names_the_closest_one(config_name, args, suggestion, capsys):
    with pytest.raises(SystemExit) as exit_info:
        check_command_line(CONF, config_name, args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + suggestion) and err.count("\n") == 1, err
    assert f"+{args[-1].split('=')[0]}=" in err  # how to add a key on purpose


@pytest.mark.parametrize("value", ["false", "true", "null"])
def test_sample_ema_says_what_to_type_instead(value, capsys):
    """`ema` is a config group of train.py, so Hydra cannot take `ema=false` as sample.py's key: the
    choice is `weights=`, and the old form says so in one line."""
    with pytest.raises(SystemExit) as exit_info:
        check_command_line(CONF, "sample", ["ckpt_path=x.ckpt", f"ema={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: ema={value}: sample.py chooses the generator's weights with weights=trained")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["data=digits", "optim.generator.lr=1e-3"],  # fine
    ["-m", "seed=0,1"],  # sweeps are Hydra's
    ["model=no_such_model"],  # an unknown option: Hydra lists the options
    ["+model.extra=1"],  # appended on purpose
    ["--cfg", "job"],
])
def test_valid_or_hydra_handled_command_lines_pass(args):
    check_command_line(CONF, "train", args)


# --- user errors: one message, exit status 2 ------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("iterations", 0), ("iterations", -5), ("iterations", "many"), ("log_every_n", 0),
    ("loss.d_steps_per_g_step", 0),
    ("loss.lr", 0), ("loss.lr", -1e-4), ("optim.generator.lr", 0.0), ("optim.discriminator.lr", -1),
])
def test_check_config_names_the_bad_key(key, value):
    cfg = compose_train("data=digits", f"{key}={value}")
    with pytest.raises(ConfigError, match=f"^{key.replace('.', '[.]')} must be a positive"):
        check_config(cfg)


@pytest.mark.parametrize("overrides, message", [
    (["data.batch_size=0"], "data.batch_size must be a positive integer, got 0"),
    (["data.batch_size=-1"], "data.batch_size must be a positive integer, got -1"),
    (["data.num_workers=-1"], "data.num_workers must be an integer >= 0, got -1"),
    (["data.image_size=0"], "data.image_size must be an integer >= 4 (or null: the stored size), got 0"),
    (["data=image_folder", "data.channels=2"], "data.channels must be 1 (grayscale) or 3 (RGB), got 2"),
    (["data=ring", "data.sigma=0"], "data.sigma must be a positive number, got 0"),
])
def test_a_bad_data_value_names_its_config_key_once(overrides, message, capsys):
    """The DataModules check their own values (ganlab.checks); the error names the config key, once."""
    cfg = compose_train(*([] if any(o.startswith("data=") for o in overrides) else ["data=digits"]), *overrides)
    check_config(cfg)
    with pytest.raises(SystemExit):
        report_errors(instantiate, cfg.data)
    assert capsys.readouterr().err.startswith(f"error: {message}")


@pytest.mark.parametrize("overrides, node, message", [
    (["callbacks.checkpoint.every_n=0"], "callbacks.checkpoint", "callbacks.checkpoint.every_n must be a positive integer, got 0"),
    (["callbacks/metrics=random_features", "callbacks.metrics.num_samples=1"], "callbacks.metrics",
     "callbacks.metrics.num_samples must be an integer >= 2, got 1"),
    (["callbacks/metrics=classifier", "callbacks.metrics.feature_network.max_train_images=0"], "callbacks.metrics",
     "callbacks.metrics.feature_network.max_train_images must be a positive integer or null (all), got 0"),
    (["callbacks/metrics=classifier", "callbacks.metrics.feature_network.lr=0"], "callbacks.metrics",
     "callbacks.metrics.feature_network.lr must be a positive number, got 0"),
    (["callbacks/metrics=random_features", "callbacks.metrics.scores.kid.subset_size=0"], "callbacks.metrics",
     "callbacks.metrics.scores.kid.subset_size must be a positive integer or null (min(1000, num_samples)), got 0"),
    (["callbacks/metrics=random_features", "callbacks.metrics.scores.is.splits=0"], "callbacks.metrics",
     "callbacks.metrics.scores.is.splits must be a positive integer, got 0"),
    (["callbacks/metrics=random_features", "callbacks.metrics.scores.manifold.precision_recall_k=0"], "callbacks.metrics",
     "callbacks.metrics.scores.manifold.precision_recall_k must be a positive integer, got 0"),
    (["data=ring", "callbacks/metrics=modes", "callbacks.metrics.threshold=0"], "callbacks.metrics",
     "callbacks.metrics.threshold must be a positive number, got 0"),
    (["experiment=mnist_infogan", "callbacks.code_accuracy.code=-1"], "callbacks.code_accuracy",
     "callbacks.code_accuracy.code must be an integer >= 0, got -1"),
    (["experiment=mnist_began", "callbacks.lr_halving.window=0"], "callbacks.lr_halving",
     "callbacks.lr_halving.window must be a positive integer, got 0"),
    (["experiment=mnist_began", "callbacks.lr_halving.rate=1"], "callbacks.lr_halving",
     "callbacks.lr_halving.rate must be a number in (0, 1), got 1"),
    (["divergence.max_abs_loss=-1"], "divergence", "divergence.max_abs_loss must be a positive number or null (no bound), got -1"),
    (["divergence.max_abs_loss=0"], "divergence", "divergence.max_abs_loss must be a positive number or null (no bound), got 0"),
    (["callbacks.progress_bar.refresh_rate=0"], "callbacks.progress_bar",
     "callbacks.progress_bar.refresh_rate must be a positive integer, got 0"),
    (["callbacks.sample_grid.every_n=-1"], "callbacks.sample_grid", "callbacks.sample_grid.every_n must be a positive integer, got -1"),
    (["callbacks.sample_grid.interpolation_steps=1"], "callbacks.sample_grid",
     "callbacks.sample_grid.interpolation_steps must be an integer >= 2, got 1"),
    (["callbacks.sample_grid.interpolation_rows=-1"], "callbacks.sample_grid",
     "callbacks.sample_grid.interpolation_rows must be an integer >= 0, got -1"),
    (["callbacks.checkpoint.keep_periodic=1"], "callbacks.checkpoint",
     "callbacks.checkpoint.keep_periodic must be true or false, got 1"),
])
def test_a_bad_callback_value_names_its_config_key_once(overrides, node, message, tmp_path, capsys):
    """Callbacks, their feature networks and metrics, and the divergence bound check their own values
    (ganlab.checks), built as train.py builds them; the error names the config key, once (the schema
    does not check them: each value is checked where it is used)."""
    assert check_config(compose_train(*overrides, f"paths.log_dir={tmp_path}", output_dir=tmp_path / "run")) is None
    cfg = compose_train(*overrides, f"paths.log_dir={tmp_path}", output_dir=tmp_path / "run")
    with pytest.raises(SystemExit):
        report_errors(instantiate, OmegaConf.select(cfg, node))
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"error: {message}" and err.count("error: ") == 1, err


def test_flag_is_true_or_false_only():
    assert checks.flag(True, "keep_periodic") is True and checks.flag(False, "keep_periodic") is False
    for value in (1, 0, "true", None):
        with pytest.raises(checks.BadValue, match=rf"^keep_periodic must be true or false, got {value!r}$"):
            checks.flag(value, "keep_periodic")


def test_or_null_is_none_or_the_checked_value_and_says_so():
    assert checks.or_null(checks.positive, None, "max_abs_loss", "no bound") is None
    assert checks.or_null(checks.positive, 2, "max_abs_loss", "no bound") == 2.0
    assert checks.or_null(checks.positive_int, 5, "max_train_images") == 5
    with pytest.raises(checks.BadValue) as error:
        checks.or_null(checks.positive_int, 0, "max_train_images", "all")
    assert str(error.value) == "max_train_images must be a positive integer or null (all), got 0"
    assert str(error.value.under("callbacks.metrics.feature_network")) == (
        "callbacks.metrics.feature_network.max_train_images must be a positive integer or null (all), got 0")
    with pytest.raises(checks.BadValue, match=r"^x must be a positive number or null, got True$"):
        checks.or_null(checks.positive, True, "x")


def test_check_config_accepts_the_defaults():
    check_config(compose_train())
    check_config(compose_train("optim=rmsprop", "loss=wgan_gp", "loss.d_steps_per_g_step=5"))


def test_conditioning_without_labels_is_refused():
    cfg = compose_train("conditioning=concat")
    with pytest.raises(ConfigError, match="conditioning needs class labels.*conditioning=none"):
        check_labels(cfg, num_classes=0)
    check_labels(cfg, num_classes=10)


def test_unbuildable_image_size_names_data_image_size(capsys):
    cfg = compose_train("model=dcgan")
    with pytest.raises(SystemExit) as exit_info:
        report_errors(build_module, cfg, (1, 7, 7), 0)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.generator (DCGANGenerator): image size 7")
    assert "data.image_size" in err
    assert "Traceback" not in err and "Error in call to target" not in err


def test_user_errors_are_one_message_and_exit_2(capsys):
    def fails():
        raise ConfigError("iterations must be a positive integer, got 0")

    with pytest.raises(SystemExit) as exit_info:
        report_errors(fails)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[0] == "error: iterations must be a positive integer, got 0"


def test_traceback_on_request_and_for_bugs(monkeypatch):
    def config_error():
        raise ConfigError("bad value")

    def bug():
        raise ZeroDivisionError("a bug, not a user error")

    with pytest.raises(ZeroDivisionError):  # bugs keep their traceback
        report_errors(bug)
    monkeypatch.setenv("GANLAB_TRACEBACK", "1")
    with pytest.raises(ConfigError):
        report_errors(config_error)


# --- output directory ----------------------------------------------------------------------------

def test_unwritable_output_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot write the output directory /proc/ganlab_test/run \(paths.output_dir\)"):
        check_writable_dir(UNWRITABLE, "paths.output_dir")
    in_the_way = tmp_path / "file"
    in_the_way.write_text("not a directory")
    with pytest.raises(ConfigError, match="hydra.run.dir"):
        check_writable_dir(in_the_way / "run", "hydra.run.dir")
    assert check_writable_dir(tmp_path / "a" / "b", "paths.output_dir").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the probe leaves nothing behind


def test_hydra_callback_refuses_an_unwritable_run_dir(tmp_path, capsys):
    callback = CheckOutputDir()
    for hook, key in ((callback.on_run_start, "hydra.run.dir"), (callback.on_multirun_start, "hydra.sweep.dir")):
        config = OmegaConf.create({"hydra": {key.split(".")[1]: {"dir": UNWRITABLE}}})
        with pytest.raises(SystemExit) as exit_info:  # Hydra would turn any Exception into a warning
            hook(config)
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == (f"error: cannot write the output directory {UNWRITABLE} ({key}): No such "
                                           "file or directory. Choose a writable location: paths.log_dir=<dir> "
                                           f"(every run goes below it) or {key}=<dir>.\n")
    callback.on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "run")}}}))
    assert (tmp_path / "run").is_dir()
    assert (tmp_path / "run" / ".hydra").is_dir()  # claimed for this run
    # a directory another run holds (its .hydra/) is refused in one line
    (tmp_path / "other" / ".hydra").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        CheckOutputDir().on_run_start(OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path / "other")}}}))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: hydra.run.dir={tmp_path / 'other'} already holds another run") and err.count("\n") == 1
