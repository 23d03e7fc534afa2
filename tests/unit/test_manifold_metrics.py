"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) on point
clouds whose values are known, and against the reference packages where they are installed."""
import numpy as np
import pytest
import torch

from ganlab.metrics import Features
from ganlab.metrics.manifold import PRDC, kth_neighbour_distances, manifold_metrics


def line(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float32)[:, None]  # (n, 1)


def test_kth_neighbour_distances_skip_the_point_itself():
    first, second = kth_neighbour_distances(line(0, 1, 3, 7), (1, 2))
    assert first.tolist() == [1, 1, 2, 4]
    assert second.tolist() == [3, 2, 3, 6]


def test_hand_computed_clouds():
    # real 0, 1, 2, 3: every 1-NN ball has radius 1. fake 0.5 (inside the balls of 0 and 1) and 10 (far).
    # fake balls: radius 9.5 each; the one around 0.5 holds every real point.
    result = manifold_metrics(line(0, 1, 2, 3), line(0.5, 10), precision_recall_k=1, density_coverage_k=1)
    assert result == {"precision": 0.5,  # 0.5 is in the real manifold, 10 is not
                      "recall": 1.0,  # every real point lies in 0.5's ball
                      "density": 1.0,  # (2 balls hold 0.5 + 0 hold 10) / (k = 1 * 2 fakes)
                      "coverage": 0.5}  # the balls of 0 and 1 hold a fake, those of 2 and 3 do not


def test_a_ball_is_closed():
    # 1 lies exactly on the radius (1) of the real point 0's ball, and of the real point 2's.
    result = manifold_metrics(line(0, 2, 3), line(1, 5), precision_recall_k=1, density_coverage_k=1)
    assert result["precision"] == 0.5 and result["density"] == 1.0


def test_identical_sets_are_fully_precise_and_covered():
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    result = manifold_metrics(x, x.clone())
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0


def test_disjoint_sets_score_zero():
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    result = manifold_metrics(x, x + 100.0)
    assert result == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_mode_collapse_is_precise_but_neither_recalls_nor_covers():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 8, generator=g) * 3.0
    fake = real[0] + 0.01 * torch.randn(500, 8, generator=g)  # every fake near one real point
    result = manifold_metrics(real, fake)
    assert result["precision"] == 1.0 and result["recall"] < 0.05 and result["coverage"] < 0.05


def test_samples_of_one_distribution_match_the_expected_values():
    # Naeem et al. 2020: for two samples of one distribution E[density] = 1, and E[coverage] =
    # 1 - prod_{i=1..k} (N - i) / (M + N - i), about 1 - 2^-k = 0.969 for k = 5 and M = N.
    g = torch.Generator().manual_seed(0)
    n, k = 2000, 5
    result = manifold_metrics(torch.randn(n, 8, generator=g), torch.randn(n, 8, generator=g), density_coverage_k=k)
    expected_coverage = 1 - np.prod([(n - i) / (2 * n - i) for i in range(1, k + 1)])
    assert result["density"] == pytest.approx(1.0, abs=0.05)
    assert result["coverage"] == pytest.approx(expected_coverage, abs=0.015)
    assert result["precision"] > 0.7 and result["recall"] > 0.7


def test_blockwise_equals_one_block():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(300, 5, generator=g), torch.randn(250, 5, generator=g) * 1.3
    assert manifold_metrics(real, fake, batch_size=37) == manifold_metrics(real, fake, batch_size=10_000)


def test_too_few_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="need more than 5 samples"):
        manifold_metrics(line(0, 1, 2), line(0, 1, 2))


def test_the_metric_object_computes_the_four_from_the_shared_features():
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(100, 4, generator=g), torch.randn(100, 4, generator=g)
    metric = PRDC(precision_recall_k=3, density_coverage_k=5, batch_size=7)
    assert metric.names == ("precision", "recall", "density", "coverage")
    first = metric.compute(Features(real, None), Features(fake, None), None)
    assert metric.compute(Features(real, None), Features(fake, None), None) == first == manifold_metrics(real, fake)


def test_agrees_with_torch_fidelity():
    prc = pytest.importorskip("torch_fidelity.metric_prc")
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(400, 16, generator=g), torch.randn(300, 16, generator=g) * 1.2 + 0.3
    precision, recall = prc.calculate_precision_recall_full(fake, real, neighborhood=3)  # (generated, real)
    result = manifold_metrics(real, fake, precision_recall_k=3)
    assert result["precision"] == pytest.approx(precision, abs=1e-6)
    assert result["recall"] == pytest.approx(recall, abs=1e-6)


def test_agrees_with_the_authors_prdc():
    prdc = pytest.importorskip("prdc")
    g = torch.Generator().manual_seed(4)
    real, fake = torch.randn(400, 16, generator=g), torch.randn(300, 16, generator=g) * 0.8 + 0.2
    reference = prdc.compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=5)
    result = manifold_metrics(real.double(), fake.double(), precision_recall_k=5, density_coverage_k=5)
    for name in ("precision", "recall", "density", "coverage"):
        assert result[name] == pytest.approx(reference[name], abs=1e-6), name


def test_the_metrics_callback_reports_them_next_to_fid_from_the_same_features():
    from ganlab.callbacks import ImageMetrics
    from ganlab.metrics import FID, RandomConvFeatures

    metrics = ImageMetrics(RandomConvFeatures(), scores={"fid": FID(), "manifold": PRDC()})
    assert metrics.names == ["fid", "precision", "recall", "density", "coverage"]


def test_the_metrics_callback_reports_them(tmp_path):
    from helpers import ToyData, fit_module, make_toy_module

    from ganlab.callbacks import ImageMetrics
    from ganlab.metrics import FID, RandomConvFeatures

    metrics = ImageMetrics(RandomConvFeatures(num_features=8, num_logits=4, width=4),
                           scores={"fid": FID(), "manifold": PRDC()}, every_n=2, num_samples=64, batch_size=32,
                           cache_dir=None)
    assert {"final/precision", "final/recall", "final/density", "final/coverage"} <= set(metrics.summary_names)
    fit_module(make_toy_module(iterations=2), ToyData(), callbacks=[metrics])
    assert set(metrics.results) == {"fid", "precision", "recall", "density", "coverage"}
    assert all(0.0 <= metrics.results[name] <= 1.0 for name in ("precision", "recall", "coverage"))
    assert metrics.results["density"] >= 0.0


def test_k_must_leave_neighbours_in_the_sample():
    from helpers import ToyData, fit_module, make_toy_module

    from ganlab.callbacks import ImageMetrics
    from ganlab.config_checks import ConfigError
    from ganlab.metrics import RandomConvFeatures

    metrics = ImageMetrics(RandomConvFeatures(num_features=8, num_logits=4, width=4),
                           scores={"manifold": PRDC(density_coverage_k=5)}, every_n=2, num_samples=5, cache_dir=None)
    with pytest.raises(ConfigError, match="callbacks.metrics.scores.manifold: density_coverage_k=5 must be below "
                                          "callbacks.metrics.num_samples=5"):
        fit_module(make_toy_module(iterations=1), ToyData(), callbacks=[metrics])
    with pytest.raises(ValueError, match=r"^precision_recall_k must be a positive integer, got 0$"):
        PRDC(precision_recall_k=0)
