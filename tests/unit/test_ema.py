"""GeneratorEMA: the averaging arithmetic, its schedule, its checkpoint state and resume."""
import pytorch_lightning as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab.callbacks.ema import EMA_STATE_KEY, GeneratorEMA, ema_state_of, evaluation_generator
from ganlab.losses import NonSaturatingLoss
from ganlab.module import GANModule
from ganlab.networks import DOut


class Scalar(nn.Module):
    """One weight and a BatchNorm (float running stats, integer counter) to average."""

    latent_dim = 1

    def __init__(self):
        super().__init__()
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
    ema = GeneratorEMA(decay=decay, start_iter=start, warmup=False)
    ema.attach(g)  # starts at w = 0
    expected = 0.0
    for t in range(1, 8):
        set_weight(g, float(t))
        ema.update(g, g_iter=t)
        expected = decay * expected + (1 - decay) * t
    # independent reference: sum_t (1 - d) d^(T - t) t  (the initial value 0 contributes nothing)
    closed_form = sum((1 - decay) * decay ** (7 - t) * t for t in range(1, 8))
    assert expected == pytest.approx(closed_form)
    assert ema.ema.w.item() == pytest.approx(closed_form, rel=1e-6)
    assert ema.ema.norm.running_mean.item() == pytest.approx(closed_form, rel=1e-6)  # float buffers averaged
    assert ema.ema.norm.num_batches_tracked.item() == 7  # integer buffers copied
    assert ema.num_updates == 7


def test_average_follows_g_until_start_iter():
    g = Scalar()
    ema = GeneratorEMA(decay=0.5, start_iter=3, warmup=False)
    ema.attach(g)
    for t in range(1, 4):
        set_weight(g, 10.0 * t)
        ema.update(g, g_iter=t)
        assert ema.ema.w.item() == 10.0 * t  # an exact copy up to start_iter
    set_weight(g, 100.0)
    ema.update(g, g_iter=4)
    assert ema.ema.w.item() == pytest.approx(0.5 * 30.0 + 0.5 * 100.0)
    assert ema.num_updates == 1


def test_update_is_idempotent_per_iteration():
    g = Scalar()
    ema = GeneratorEMA(decay=0.5, warmup=False)
    ema.attach(g)
    set_weight(g, 4.0)
    ema.update(g, g_iter=1)
    ema.update(g, g_iter=1)  # a second caller at the same iteration changes nothing
    assert ema.ema.w.item() == pytest.approx(2.0)


def test_warmup_schedule():
    ema = GeneratorEMA(decay=0.999, warmup=True)
    assert ema.decay_now() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    ema.num_updates = 90
    assert ema.decay_now() == pytest.approx(0.91)
    ema.num_updates = 100_000
    assert ema.decay_now() == 0.999
    assert GeneratorEMA(decay=0.999, warmup=False).decay_now() == 0.999


@pytest.mark.parametrize("kwargs", [{"decay": 1.0}, {"decay": -0.1}, {"start_iter": -1}])
def test_bad_settings_name_the_key(kwargs):
    with pytest.raises(ValueError, match="callbacks.ema"):
        GeneratorEMA(**kwargs)


def test_state_restores_before_and_after_attach():
    g = Scalar()
    ema = GeneratorEMA(decay=0.5, warmup=False)
    ema.attach(g)
    set_weight(g, 8.0)
    ema.update(g, g_iter=1)
    state = ema.state_dict()

    restored = GeneratorEMA(decay=0.5, warmup=False)
    restored.load_state_dict(state)  # as Lightning does on resume: before the copy of G exists
    restored.attach(Scalar())  # the copy is made from a G with other weights ...
    assert restored.ema.w.item() == pytest.approx(4.0)  # ... but holds the checkpoint's average
    assert (restored.updated_at, restored.num_updates) == (1, 1)
    assert ema_state_of({"callbacks": {EMA_STATE_KEY: state}})["w"].item() == pytest.approx(4.0)
    assert ema_state_of({"callbacks": {}}) is None


# --- with a Trainer -------------------------------------------------------------------------------
class ToyGenerator(nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 1, 4, 4)


class ToyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))

    def forward(self, x, y=None):
        return DOut(score=self.net(x).squeeze(1))


def fit(iterations: int, callbacks: list, ckpt_path=None, tmp_path=None) -> tuple[pl.Trainer, GANModule]:
    torch.manual_seed(0)
    module = GANModule(ToyGenerator(), ToyDiscriminator(), NonSaturatingLoss(),
                       lambda p: torch.optim.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2),
                       iterations=iterations, log_every_n=1000)
    # every batch the same images: a resumed run sees the same data whatever Lightning's replay does
    images = (torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1).repeat(8, 1, 1, 1)
    data = DataLoader(TensorDataset(images, torch.zeros(64, dtype=torch.long)), batch_size=8)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
                         default_root_dir=tmp_path)
    trainer.fit(module, data, ckpt_path=ckpt_path)
    return trainer, module


def test_trainer_averages_checkpoints_and_resumes(tmp_path):
    first = GeneratorEMA(decay=0.8, warmup=False)
    trainer, module = fit(3, [first], tmp_path=tmp_path)
    assert first.updated_at == 3 and first.num_updates == 3
    assert evaluation_generator(trainer, module) is first.ema
    assert not torch.equal(first.ema.net[0].weight, module.generator.net[0].weight)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    saved = torch.load(tmp_path / "half.ckpt", map_location="cpu", weights_only=False)
    saved_average = ema_state_of(saved)
    torch.testing.assert_close(saved_average["net.0.weight"], first.ema.net[0].weight)

    # resumed with one more iteration: the average continues from the checkpoint's, not from G
    resumed = GeneratorEMA(decay=0.8, warmup=False)
    _, module = fit(4, [resumed], ckpt_path=tmp_path / "half.ckpt", tmp_path=tmp_path)
    assert resumed.updated_at == 4 and resumed.num_updates == 4
    for name, average in resumed.ema.state_dict().items():
        if average.is_floating_point():
            expected = 0.8 * saved_average[name] + 0.2 * module.generator.state_dict()[name]
            torch.testing.assert_close(average, expected, msg=name)


def test_without_ema_the_trained_generator_is_evaluated(tmp_path):
    trainer, module = fit(1, [], tmp_path=tmp_path)
    assert evaluation_generator(trainer, module) is module.generator


def test_ema_option_composes_and_is_off_by_default():
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[2] / "conf"), version_base="1.3"):
        assert "ema" not in compose("train", overrides=["paths.output_dir=/tmp/run"]).callbacks
        cfg = compose("train", overrides=["callbacks/ema=default", "callbacks.ema.decay=0.9999",
                                          "paths.output_dir=/tmp/run"])
    ema = instantiate(cfg.callbacks.ema)
    assert isinstance(ema, GeneratorEMA) and ema.decay == 0.9999
