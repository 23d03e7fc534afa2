"""FID/KID/IS plumbing with a small feature network (no download): scores against an independent
reference, cached real features, best-checkpoint selection, clear errors for missing weights."""
import numpy as np
import pytest
import pytorch_lightning as pl
import scipy.linalg
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab.callbacks import BestCheckpoint, ImageMetrics
from ganlab.callbacks.metrics import interleave
from ganlab.config_checks import ConfigError
from ganlab.metrics import (FID, KID, Features, InceptionFeatures, InceptionScore, RandomConvFeatures,
                            TorchScriptFeatures, as_features, fingerprint)

from helpers import RecordingLogger, compose_config, fit_module, make_toy_module
from helpers import ToyData as ToyImages


# --- the scores ------------------------------------------------------------------------------------
def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al. 2017, as in the TTUR/pytorch-fid reference: scipy's sqrtm."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def test_fid_matches_the_reference_and_the_gaussian_formula():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(3000, 4, generator=g)
    fake = torch.randn(3000, 4, generator=g) + torch.tensor([1.0, 1.0, 1.0, 1.0])  # |mean shift|^2 = 4
    real_set, fake_set = Features(real, None), Features(fake, None)
    results = {**FID().compute(real_set, fake_set, None),
               **KID(subsets=10, subset_size=500).compute(real_set, fake_set, None)}
    assert results["fid"] == pytest.approx(reference_fid(real.double().numpy(), fake.double().numpy()), rel=1e-3)
    assert results["fid"] == pytest.approx(4.0, abs=0.3)  # same covariance: FID = |mu_a - mu_b|^2
    assert results["kid"] > 0.1


def test_same_distribution_scores_near_zero_and_the_real_features_are_left_as_they_were():
    torch.manual_seed(0)  # KID draws its subsets from the global generator: independent of test order
    g = torch.Generator().manual_seed(1)
    real = Features(torch.randn(2000, 3, generator=g), None)
    kept = real.features.clone()
    for _ in range(2):  # two evaluations against the same real features
        fake = Features(torch.randn(2000, 3, generator=g), None)
        results = {**FID().compute(real, fake, None), **KID(subsets=10, subset_size=500).compute(real, fake, None)}
        assert torch.equal(real.features, kept)
        assert results["fid"] < 0.05
        assert abs(results["kid"]) < 0.02  # a mean shift of 1 gives > 0.1 (test above)


def test_inception_score_of_confident_balanced_and_of_uniform_predictions():
    metric, real = InceptionScore(splits=1), Features(torch.randn(10, 2), None)
    confident = torch.eye(5).repeat(40, 1) * 50.0  # every class equally often, each image certain
    assert metric.compute(real, Features(torch.randn(200, 2), confident), None)["is"] == pytest.approx(5.0, rel=1e-3)
    uniform = Features(torch.randn(200, 2), torch.zeros(200, 5))  # uniform predictions: IS = 1
    assert metric.compute(real, uniform, None)["is"] == pytest.approx(1.0, rel=1e-4)


def test_the_shares_of_processes_are_reassembled_in_the_order_of_the_noise_whatever_their_sizes():
    # Under several processes, process r generates images r, r + world, ... of the fixed noise; with
    # 7 images and 3 processes the shares hold 3, 2 and 2 rows. Gathered, they must be the 7 rows in
    # order, so that every process scores exactly the images one process would.
    whole = torch.arange(7 * 2, dtype=torch.float32).view(7, 2)
    assert torch.equal(interleave([whole[rank::3] for rank in range(3)]), whole)
    assert torch.equal(interleave([whole]), whole)


# --- feature networks ------------------------------------------------------------------------------
def test_random_features_are_deterministic_and_accept_any_channels_and_size():
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    a = RandomConvFeatures(num_features=16, num_logits=7, seed=0)
    b = RandomConvFeatures(num_features=16, num_logits=7, seed=0)
    features, logits = a(images)
    assert features.shape == (5, 16) and logits.shape == (5, 7)
    torch.testing.assert_close(features, b(images)[0])
    assert fingerprint(a) == fingerprint(b) != fingerprint(RandomConvFeatures(num_features=16, num_logits=7, seed=1))
    rgb = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    assert a(rgb)[0].shape == (2, 16)


def test_as_features_takes_a_tensor_or_a_pair():
    x = torch.randn(3, 4, 1, 1)
    assert as_features(x).features.shape == (3, 4) and as_features(x).logits is None
    assert as_features((x, torch.randn(3, 2))).logits.shape == (3, 2)


def test_torchscript_features(tmp_path):
    class Net(nn.Module):
        def forward(self, x):
            return x.flatten(1).mean(1, keepdim=True), x.flatten(1)[:, :3]

    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(Net()), str(path))
    network = TorchScriptFeatures(str(path), input_low=0.0, input_high=1.0)
    out = as_features(network(torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)))
    torch.testing.assert_close(out.features, torch.ones(2, 1))  # 255 -> input_high
    with pytest.raises(ConfigError, match="feature_network.path=.*no such file"):
        TorchScriptFeatures(str(tmp_path / "missing.pt"))


def test_inception_without_weights_or_network_says_how_to_provide_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights
    try:  # with torch-fidelity installed: simulate a machine without internet
        import torch_fidelity.feature_extractor_inceptionv3 as inception

        def offline(*args, **kwargs):
            raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

        monkeypatch.setattr(inception, "load_state_dict_from_url", offline)
    except ImportError:
        pass
    with pytest.raises(ConfigError) as error:
        InceptionFeatures()
    assert "callbacks.metrics.feature_network.weights_path=" in str(error.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in str(error.value)
    with pytest.raises(ConfigError, match="weights_path=/nowhere/w.pth"):
        InceptionFeatures(weights_path="/nowhere/w.pth")


# --- best checkpoint -------------------------------------------------------------------------------
class RecordingTrainer:
    """What save_atomically needs from a Trainer: writes the g_iter it is told into the file."""

    def __init__(self):
        self.lightning_module = nn.Linear(1, 1)
        self.is_global_zero = True
        self.strategy = type("Strategy", (), {"barrier": staticmethod(lambda name=None: None)})()
        self.g_iter = 0

    def save_checkpoint(self, path, **kwargs):
        torch.save({"g_iter": self.g_iter}, path)


@pytest.mark.parametrize("monitor, mode, values, best_iter", [
    ("fid", "min", [5.0, 3.0, 4.0, 2.0, float("nan"), 2.5], 4),
    ("is", "max", [1.5, 2.0, 1.9, 2.4, 2.1, float("nan")], 4),
])
def test_best_checkpoint_follows_the_monitored_metric(tmp_path, monitor, mode, values, best_iter):
    best = BestCheckpoint(str(tmp_path), monitor=monitor, mode=mode)
    trainer = RecordingTrainer()
    saved = []
    for g_iter, value in enumerate(values, start=1):
        trainer.g_iter = g_iter
        # the other metric moves the opposite way: only the monitored one decides
        other = {"fid": -value} if monitor == "is" else {"is": -value}
        saved.append(best.update(trainer, g_iter, {monitor: value, **other}))
    expected = [True, True, False, True, False, False]
    assert saved == expected
    assert best.best == values[best_iter - 1] and best.best_iter == best_iter
    assert torch.load(tmp_path / "best.ckpt")["g_iter"] == best_iter
    assert not list(tmp_path.glob("*.tmp"))

    restored = BestCheckpoint(str(tmp_path), monitor=monitor, mode=mode)
    restored.load_state_dict(best.state_dict())
    assert not restored.improves(values[0])


def test_best_checkpoint_must_monitor_a_computed_metric():
    with pytest.raises(ConfigError, match="monitor='is' is not computed"):
        ImageMetrics(RandomConvFeatures(), scores={"fid": FID(), "is": None},
                     best_checkpoint=BestCheckpoint("/tmp", monitor="is", mode="max"))


def test_scores_must_be_metrics_with_names_of_their_own():
    with pytest.raises(ConfigError, match="callbacks.metrics.scores.fid is a Linear, not a metric"):
        ImageMetrics(RandomConvFeatures(), scores={"fid": nn.Linear(1, 1)})
    with pytest.raises(ConfigError, match="two metrics report fid"):
        ImageMetrics(RandomConvFeatures(), scores={"fid": FID(), "again": FID()})
    with pytest.raises(ValueError, match=r"^subsets must be a positive integer, got 0$"):
        KID(subsets=0)


# --- the callback in a run -------------------------------------------------------------------------
def ToyData() -> ToyImages:
    """Blobs in 8x8 images, with the two things ImageMetrics reads: real_images() and cache_key."""
    return ToyImages(n=256, side=8, batch_size=16, blobs=True)


def make_metrics(tmp_path, **kwargs) -> ImageMetrics:
    options = dict(scores={"fid": FID(), "kid": KID(subsets=5), "is": InceptionScore(splits=2)},
                   every_n=2, num_samples=64, batch_size=32, cache_dir=str(tmp_path / "cache"),
                   best_checkpoint=BestCheckpoint(str(tmp_path / "checkpoints")))
    options.update(kwargs)
    return ImageMetrics(RandomConvFeatures(num_features=8, num_logits=4, width=4), **options)


def fit(tmp_path, callbacks, data, iterations=4, ema=None):
    module = make_toy_module(side=8, iterations=iterations, log_every_n=1000, ema=ema)
    logger = RecordingLogger()
    trainer = fit_module(module, data, callbacks=callbacks, logger=logger, default_root_dir=tmp_path)
    return trainer, module, logger


def test_metrics_are_logged_against_generator_iterations_with_a_best_checkpoint(tmp_path):
    metrics = make_metrics(tmp_path)
    _, module, logger = fit(tmp_path, [metrics], ToyData(), iterations=5, ema={"decay": 0.9})
    logged = {step: values for step, values in logger.logged if "metrics/fid" in values}
    assert sorted(logged) == [2, 4, 5]  # every 2 generator iterations, and at the end
    assert set(logged[5]) == {"metrics/fid", "metrics/kid", "metrics/kid_std", "metrics/is", "metrics/is_std",
                              "best/fid"}
    assert all(np.isfinite(v) for values in logged.values() for v in values.values())
    assert logged[5]["best/fid"] == min(values["metrics/fid"] for values in logged.values())
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert best["ganlab"]["g_iter"] == metrics.best_checkpoint.best_iter
    assert metrics.summary()["final/fid"] == logged[5]["metrics/fid"]
    assert set(metrics.summary()) == set(metrics.summary_names)


def test_real_features_are_cached_and_reused_by_a_second_run(tmp_path):
    data = ToyData()
    first = make_metrics(tmp_path)
    fit(tmp_path, [first], data, iterations=2)
    assert data.real_images_calls == 1
    cached = list((tmp_path / "cache").glob("toy_1x8x8__n64_seed0__RandomConvFeatures-*.pt"))
    assert len(cached) == 1

    second = make_metrics(tmp_path)
    fit(tmp_path, [second], data, iterations=2)
    assert data.real_images_calls == 1  # read from the cache, not recomputed
    assert second.results == pytest.approx(first.results)  # same real features, same run, same scores

    other_network = make_metrics(tmp_path)
    other_network.feature_network = RandomConvFeatures(num_features=8, num_logits=4, width=4, seed=5)
    fit(tmp_path, [other_network], data, iterations=2)
    assert data.real_images_calls == 2  # another network: other features
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2


def test_evaluation_leaves_the_training_random_stream_alone(tmp_path):
    metrics = make_metrics(tmp_path)
    trainer, module, _ = fit(tmp_path, [metrics], ToyData(), iterations=2)
    state = torch.get_rng_state()
    first = metrics.evaluate(trainer, module)
    assert torch.equal(torch.get_rng_state(), state)
    assert metrics.evaluate(trainer, module) == first  # and the scores repeat


def test_inception_score_needs_logits(tmp_path):
    class FeaturesOnly(nn.Module):
        def forward(self, images):
            return images.float().flatten(1)[:, :4]

    metrics = ImageMetrics(FeaturesOnly(), scores={"fid": FID(), "is": InceptionScore()}, every_n=2, num_samples=32)
    with pytest.raises(ConfigError, match=r"callbacks.metrics.scores.is: IS needs class logits.*scores.is=null"):
        fit(tmp_path, [metrics], ToyData(), iterations=1)


# --- the config options ----------------------------------------------------------------------------
def compose_callbacks(*overrides: str):
    return compose_config(*overrides, output_dir="/tmp/run").callbacks


def test_metrics_options_compose_before_the_checkpoints():
    from hydra.utils import instantiate

    assert "metrics" not in compose_callbacks()  # off by default
    for option in ("inception", "random_features", "torchscript"):
        callbacks = compose_callbacks(f"callbacks/metrics={option}")
        assert list(callbacks).index("metrics") < list(callbacks).index("checkpoint")
        assert callbacks.metrics.best_checkpoint.dirpath == "/tmp/run/checkpoints"
    metrics = instantiate(compose_callbacks("callbacks/metrics=random_features").metrics)
    assert isinstance(metrics, ImageMetrics) and isinstance(metrics.feature_network, RandomConvFeatures)
    assert metrics.best_checkpoint.path.name == "best.ckpt"
    assert metrics.names == ["fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage"]


def test_the_options_share_their_common_keys_and_change_only_what_differs():
    from hydra.utils import instantiate

    random_features = compose_callbacks("callbacks/metrics=random_features").metrics
    assert random_features.scores.kid.subsets == 50 and random_features.num_samples == 2000  # its own values
    classifier = compose_callbacks("callbacks/metrics=classifier").metrics
    assert list(classifier.scores) == ["fid", "kid", "is", "manifold", "class_scores"]  # the common ones, plus its own
    assert classifier.scores.kid.subsets == 100
    torchscript = compose_callbacks("callbacks/metrics=torchscript", "callbacks.metrics.feature_network.path=x")
    assert torchscript.metrics.scores["is"] is None  # dropped: a TorchScript network may return features only
    dropped = instantiate(compose_callbacks("callbacks/metrics=random_features", "callbacks.metrics.scores.kid=null",
                                            "+callbacks.metrics.scores.fid_again={_target_:ganlab.metrics.FID}",
                                            "callbacks.metrics.scores.fid=null").metrics)
    assert dropped.names == ["is", "is_std", "precision", "recall", "density", "coverage", "fid"]  # one line each
