"""GeneratorEMA: the averaging arithmetic, its schedule, its place in the model (state_dict,
checkpoint, resume) and what the grids, metrics and sample.py evaluate."""
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn

from ganlab import checks
from ganlab.ema import GeneratorEMA, averaged_generator_state
from ganlab.networks import Generator


class Scalar(Generator):
    """One weight and a BatchNorm (float running stats, integer counter) to average."""

    def __init__(self):
        super().__init__(latent_dim=1)
        self.w = nn.Parameter(torch.zeros(1))
        self.norm = nn.BatchNorm1d(1)

    def forward(self, z, y=None):
        return self.norm(z * self.w)


def set_weight(module: Scalar, value: float) -> None:
    with torch.no_grad():
        module.w.fill_(value)
        module.norm.running_mean.fill_(value)
        module.norm.num_batches_tracked.fill_(int(value))


def test_average_matches_the_closed_form():
    decay, start = 0.9, 0
    g = Scalar()
    ema = GeneratorEMA(g, decay=decay, start_iter=start, warmup=False)  # starts at w = 0
    expected = 0.0
    for t in range(1, 8):
        set_weight(g, float(t))
        ema.update(g, g_iter=t)
        expected = decay * expected + (1 - decay) * t
    # independent reference: sum_t (1 - d) d^(T - t) t  (the initial value 0 contributes nothing)
    closed_form = sum((1 - decay) * decay ** (7 - t) * t for t in range(1, 8))
    assert expected == pytest.approx(closed_form)
    assert ema.average.w.item() == pytest.approx(closed_form, rel=1e-6)
    assert ema.average.norm.running_mean.item() == pytest.approx(closed_form, rel=1e-6)  # float buffers averaged
    assert ema.average.norm.num_batches_tracked.item() == 7  # integer buffers copied


def test_average_follows_g_until_start_iter():
    g = Scalar()
    ema = GeneratorEMA(g, decay=0.5, start_iter=3, warmup=False)
    for t in range(1, 4):
        set_weight(g, 10.0 * t)
        ema.update(g, g_iter=t)
        assert ema.average.w.item() == 10.0 * t  # an exact copy up to start_iter
    set_weight(g, 100.0)
    ema.update(g, g_iter=4)
    assert ema.average.w.item() == pytest.approx(0.5 * 30.0 + 0.5 * 100.0)


def test_warmup_schedule():
    ema = GeneratorEMA(Scalar(), decay=0.999, warmup=True, start_iter=5)
    assert ema.decay_at(5) == 0.0  # up to start_iter: follow G
    assert ema.decay_at(6) == pytest.approx(0.1)  # the first update: (1 + 0) / (10 + 0)
    assert ema.decay_at(96) == pytest.approx(0.91)  # the 91st: (1 + 90) / (10 + 90)
    assert ema.decay_at(100_000) == 0.999
    assert GeneratorEMA(Scalar(), decay=0.999, warmup=False).decay_at(1) == 0.999


@pytest.mark.parametrize("kwargs", [{"decay": 1.0}, {"decay": -0.1}, {"start_iter": -1}])
def test_bad_settings_name_the_key(kwargs):
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"^ema[.]{key} must be"):
        with checks.under("ema"):  # as ganlab.build builds it around G
            GeneratorEMA(Scalar(), **kwargs)


# --- in the model -------------------------------------------------------------------------------
class RecordGenerator(pl.Callback):
    """G's weights at the end of every generator iteration."""

    def __init__(self):
        self.weights = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.weights.append({k: v.clone() for k, v in pl_module.generator.state_dict().items()})


def ema_module(toy_module, iterations):
    return toy_module(iterations=iterations, log_every_n=1000, ema={"decay": 0.8, "warmup": False})


def test_the_model_averages_once_per_iteration_and_resumes_from_its_checkpoint(tmp_path, toy_module, toy_data, fit):
    from ganlab.callbacks import IterationCheckpoint

    module = ema_module(toy_module, iterations=3)
    initial = {k: v.clone() for k, v in module.generator.state_dict().items()}
    record = RecordGenerator()
    trainer = fit(module, toy_data(same_images=True), callbacks=[record, IterationCheckpoint(str(tmp_path), every_n=3)])
    expected = initial
    for weights in record.weights:  # one update per generator iteration, after G's step
        expected = {k: 0.8 * expected[k] + 0.2 * weights[k] if weights[k].is_floating_point() else weights[k]
                    for k in weights}
    for name, value in module.generator_ema.average.state_dict().items():
        torch.testing.assert_close(value, expected[name].to(value.dtype), msg=name)
    assert module.evaluation_generator is module.generator_ema.average
    assert not torch.equal(module.generator_ema.average.net[0].weight, module.generator.net[0].weight)

    saved = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)
    saved_average = averaged_generator_state(saved)  # in the model's state_dict: generator_ema.average.*
    assert saved_average.keys() == module.generator_ema.average.state_dict().keys()
    torch.testing.assert_close(saved_average["net.0.weight"], module.generator_ema.average.net[0].weight)

    # resumed with one more iteration: the average continues from the checkpoint's, not from G
    resumed = ema_module(toy_module, iterations=4)
    fit(resumed, toy_data(same_images=True), ckpt_path=tmp_path / "last.ckpt")
    for name, average in resumed.generator_ema.average.state_dict().items():
        if average.is_floating_point():
            expected = 0.8 * saved_average[name] + 0.2 * resumed.generator.state_dict()[name]
            torch.testing.assert_close(average, expected, msg=name)


def test_without_ema_the_trained_generator_is_evaluated(toy_module):
    module = toy_module()
    assert module.generator_ema is None and module.evaluation_generator is module.generator
    assert averaged_generator_state({"state_dict": module.state_dict()}) is None


def test_ema_option_composes_into_the_model_and_is_off_by_default(compose_train):
    from ganlab.build import build_module

    assert "ema" not in compose_train(output_dir="/tmp/run")
    cfg = compose_train("ema=default", "ema.decay=0.9999", "model=mlp", "model.generator.hidden=[8]",
                        "model.discriminator.hidden=[8]", output_dir="/tmp/run")
    module = build_module(cfg, (1, 8, 8), 0)
    assert isinstance(module.generator_ema, GeneratorEMA) and module.generator_ema.decay == 0.9999
    assert any(k.startswith("generator_ema.average.") for k in module.state_dict())


@pytest.mark.parametrize("settings, message", [
    ({"decay": 1.0}, "ema.decay must be a number in [0, 1)"), ({"decay": -0.1}, "ema.decay must be a number in [0, 1)"),
    ({"start_iter": -1}, "ema.start_iter must be an integer >= 0"),
])
def test_a_bad_ema_setting_is_a_config_error(toy_module, settings, message):
    """Built as a partial (outside Hydra's instantiate), its errors are ConfigErrors: one line, no traceback,
    naming the config key once (checks.under, as ganlab.build builds it)."""
    from ganlab import checks
    from ganlab.config_checks import ConfigError
    from ganlab.ema import GeneratorEMA

    with pytest.raises(ConfigError) as error, checks.under("ema"):
        GeneratorEMA(toy_module().generator, **settings)
    assert str(error.value).startswith(message)
