"""2-D mixtures of Gaussians (data=ring / data=grid), the mode-collapse measures on known point sets,
PacGAN's networks and packing, the minibatch standard-deviation feature, and the mixture picture."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.config_checks import ConfigError
from ganlab.data.mixture import GridDataModule, RingDataModule, grid_means, ring_means
from ganlab.metrics.modes import mode_counts, mode_stats, reverse_kl_to_uniform
from ganlab.mixture_plot import discriminator_scores, frame_paths, mixture_figure, plot_extent, render
from ganlab.networks.layers import Maxout, MinibatchStdDev
from ganlab.networks.output import DOut
from ganlab.networks.packing import PackedDiscriminator
from ganlab.networks.pacgan import PacGANAutoencoder, PacGANDiscriminator, PacGANGenerator


# --- the mixtures ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, modes, sigma", [(RingDataModule, 8, 0.01), (GridDataModule, 25, 0.05)])
def test_mixture_statistics(cls, modes, sigma):
    data = cls(num_workers=0, dataset_seed=0)
    points = data.train_dataset.images  # (100000, 2)
    assert points.shape == (100_000, 2) and points.dtype == torch.float32
    assert data.means.shape == (modes, 2) and data.sigma == sigma
    index = torch.cdist(points.double(), data.means.double()).argmin(dim=1)
    counts = torch.bincount(index, minlength=modes)
    assert counts.max() - counts.min() <= 1  # equal weights
    offsets = points.double() - data.means.double()[index]  # (n, 2) around each point's mode
    assert offsets.mean(dim=0).abs().max() < 5 * sigma / math.sqrt(100_000)
    assert torch.allclose(offsets.std(dim=0), torch.full((2,), sigma, dtype=torch.float64), rtol=0.02)
    assert offsets.norm(dim=1).max() < 6 * sigma  # each point near the mode it was drawn from


def test_ring_and_grid_layouts():
    ring = ring_means(8, 1.0)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8, dtype=torch.float64))
    assert torch.allclose(ring[0], torch.tensor([1.0, 0.0], dtype=torch.float64))
    angles = torch.atan2(ring[:, 1], ring[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles, torch.arange(8, dtype=torch.float64) * math.pi / 4, atol=1e-12)
    grid = grid_means(25, 4.0)
    assert {tuple(p) for p in grid.tolist()} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


def test_mixture_batches_and_keys():
    data = RingDataModule(batch_size=50, num_workers=0, modes=4, radius=2.0, sigma=0.1, size=1000, dataset_seed=3)
    x, y = next(iter(data.train_dataloader()))  # one generator iteration: k = 1 batch
    assert x.shape == (1, 50, 2) and x.dtype == torch.float32 and y.shape == (1, 50) and (y == 0).all()
    assert data.image_shape == (2,) and data.num_classes == 0 and data.name == "ring_4x2_sigma0.1"
    assert data.real_images(7).shape == (7, 2)
    again = RingDataModule(num_workers=0, modes=4, radius=2.0, sigma=0.1, size=1000, dataset_seed=3)
    other = RingDataModule(num_workers=0, modes=4, radius=2.0, sigma=0.1, size=1000, dataset_seed=4)
    assert torch.equal(data.train_dataset.images, again.train_dataset.images)
    assert not torch.equal(data.train_dataset.images, other.train_dataset.images)


@pytest.mark.parametrize("kwargs, key", [({"modes": 24}, "data.modes"), ({"sigma": 0.0}, "^sigma must be"),
                                         ({"radius": -1.0}, "^radius must be"), ({"size": 0}, "^size must be")])
def test_bad_mixture_keys_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        GridDataModule(num_workers=0, **kwargs)


# --- the measures ----------------------------------------------------------------------------------
def test_points_on_every_mode_are_all_high_quality_and_uniform():
    means = grid_means(25, 4.0).float()
    stats = mode_stats(means.repeat(100, 1), means, sigma=0.05)
    assert stats.high_quality == 1.0 and stats.modes == 25 and stats.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_points_on_half_the_modes_give_log_2():
    means = ring_means(8, 1.0).float()
    stats = mode_stats(means[::2].repeat(50, 1), means, sigma=0.01)
    assert stats.modes == 4 and stats.high_quality == 1.0
    assert stats.reverse_kl == pytest.approx(math.log(2), abs=1e-12)
    one = mode_stats(means[:1].repeat(10, 1), means, sigma=0.01)
    assert one.modes == 1 and one.reverse_kl == pytest.approx(math.log(8), abs=1e-12)


def test_the_three_sigma_boundary_and_far_points():
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    points = torch.tensor([[0.29, 0.0], [0.0, -0.31], [10.0, 0.2], [5.0, 5.0]])  # sigma 0.1: in, out, in, out
    assert mode_counts(points, means, sigma=0.1).tolist() == [1, 1]
    stats = mode_stats(points, means, sigma=0.1)
    assert stats.high_quality == 0.5 and stats.modes == 2
    nothing = mode_stats(torch.full((5, 2), 100.0), means, sigma=0.1)
    assert nothing.high_quality == 0.0 and nothing.modes == 0 and math.isnan(nothing.reverse_kl)


def test_measures_match_a_direct_computation():
    rng = np.random.default_rng(0)
    means = grid_means(25, 4.0).numpy()
    points = means[rng.integers(0, 25, 3000)][:, :] * 1.0 + rng.normal(0, 0.1, (3000, 2))  # some beyond 3 sigma
    counts = np.zeros(25, dtype=int)
    for p in points:
        d = np.sqrt(((means - p) ** 2).sum(1))
        if d.min() < 3 * 0.05:
            counts[d.argmin()] += 1
    stats = mode_stats(torch.from_numpy(points), torch.from_numpy(means), sigma=0.05)
    assert stats.counts.tolist() == counts.tolist()
    p = counts / counts.sum()
    expected = math.log(25) + (p[p > 0] * np.log(p[p > 0])).sum()
    assert stats.reverse_kl == pytest.approx(expected, rel=1e-12)
    assert stats.high_quality == counts.sum() / 3000
    assert reverse_kl_to_uniform(torch.tensor([3, 1])) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-12)


# --- packing ---------------------------------------------------------------------------------------
class Recorder(nn.Module):
    """A discriminator that records its inputs; its score is the sum of each input."""

    def __init__(self, image_shape):
        super().__init__()
        self.image_shape = image_shape
        self.seen: list[torch.Tensor] = []
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, x, y=None):
        self.seen.append(x)
        return DOut(score=self.weight * x.flatten(1).sum(1))


@pytest.mark.parametrize("shape, m", [((2,), 2), ((2,), 3), ((2,), 4), ((1, 4, 4), 2), ((3, 4, 4), 4)])
def test_packing_shapes_and_what_d_sees(shape, m):
    packed = PackedDiscriminator(Recorder, shape, samples=m)
    assert packed.discriminator.image_shape == (shape[0] * m, *shape[1:])
    x = torch.randn(12, *shape)
    out = packed(x)
    assert out.score.shape == (12 // m,)
    (seen,) = packed.discriminator.seen
    assert seen.shape == (12 // m, shape[0] * m, *shape[1:])
    for pack in range(12 // m):  # pack i holds samples i*m .. i*m + m - 1, side by side
        assert torch.equal(seen[pack], torch.cat(list(x[pack * m:(pack + 1) * m]), dim=0))


def test_packed_pacgan_discriminator_sees_the_whole_pack():
    torch.manual_seed(0)
    packed = PackedDiscriminator(lambda s: PacGANDiscriminator(s, hidden=[16, 16], pieces=2), (2,), samples=2)
    x = torch.randn(8, 2)
    before = packed(x).score
    x2 = x.clone()
    x2[3] += 1.0  # the second sample of pack 1
    after = packed(x2).score
    changed = (after - before).abs() > 1e-7
    assert changed.tolist() == [False, True, False, False]


def test_packing_errors():
    with pytest.raises(ValueError, match="multiple of packing.samples=3"):
        PackedDiscriminator(Recorder, (2,), samples=3)(torch.randn(10, 2))
    conditional = PackedDiscriminator(lambda s: PacGANDiscriminator(s, num_classes=3, label_dim=2), (2,), samples=2)
    assert conditional.conditional and "per_sample" not in conditional.provides  # the build step refuses it:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from ganlab import CONFIG_DIR
    from ganlab.build import build_module

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=pacgan", "packing=pacgan", "conditioning=concat"])
    with pytest.raises(ConfigError, match="^model=pacgan with packing .* cannot serve conditioning=concat: .*without packing"):
        build_module(cfg, (2,), 3)
    with pytest.raises(ConfigError, match="^samples must be a positive integer"):  # packing.samples, once built
        PackedDiscriminator(Recorder, (2,), samples=0)


# --- layers and networks ---------------------------------------------------------------------------
def test_minibatch_std_known_values():
    layer = MinibatchStdDev(group_size=2, eps=0.0)
    h = torch.tensor([[0.0, 0.0], [5.0, 5.0], [2.0, 4.0], [5.0, 5.0]])  # groups: {0, 2} and {1, 3}
    out = layer(h)
    assert out.shape == (4, 3)
    assert torch.allclose(out[:, 2], torch.tensor([1.5, 0.0, 1.5, 0.0]))  # std of (0, 2) = 1, of (0, 4) = 2
    assert torch.equal(out[:, :2], h)
    maps = MinibatchStdDev(group_size=4)(torch.randn(8, 3, 5, 5))
    assert maps.shape == (8, 4, 5, 5) and (maps[:, 3] == maps[:, 3, :1, :1]).all()
    with pytest.raises(ValueError, match="multiple of the group size"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 2))


def test_minibatch_std_sees_collapse():
    layer = MinibatchStdDev(group_size=4)
    collapsed = layer(torch.ones(8, 2))[:, -1]
    varied = layer(torch.randn(8, 2))[:, -1]
    assert (collapsed < 1e-3).all() and (varied > 0.1).all()


def test_maxout():
    layer = Maxout(3, 2, pieces=4)
    h = torch.randn(5, 3)
    expected = layer.linear(h).view(5, 2, 4).max(dim=2).values
    assert torch.equal(layer(h), expected)


def test_pacgan_networks_follow_the_paper():
    torch.manual_seed(0)
    g, d = PacGANGenerator((2,)), PacGANDiscriminator((2,))
    linears = [m for m in g.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == [
        (2, 400, False), (400, 400, False), (400, 400, False), (400, 400, False), (400, 2, True)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in g.modules()) == 4
    assert not any(isinstance(m, nn.Tanh) for m in g.modules())  # the grid reaches +-4
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.out_features, m.pieces) for m in maxouts] == [(2, 200, 5), (200, 200, 5),
                                                                                   (200, 200, 5)]
    weights = torch.cat([m.weight.flatten() for m in d.modules() if isinstance(m, nn.Linear)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    x = g(torch.randn(10, 2))
    assert x.shape == (10, 2) and d(x).score.shape == (10,)


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8)])
def test_pacgan_family_takes_vectors_and_images(shape):
    g = PacGANGenerator(shape, latent_dim=3, hidden=[8, 8])
    x = g(torch.randn(4, 3))
    assert x.shape == (4, *shape) and g.image_shape == shape
    d = PacGANDiscriminator(shape, hidden=[8, 8], pieces=2, minibatch_std=2)
    assert d(x).score.shape == (4,)
    ae = PacGANAutoencoder(shape, hidden=[8, 4], pieces=2)
    out = ae(x)
    assert out.score.shape == (4,) and out.reconstruction.shape == x.shape


# --- the picture -----------------------------------------------------------------------------------
class RightIsReal(nn.Module):  # scores a point by its x: the right half is judged real
    def forward(self, x, y=None):
        return DOut(score=x[:, 0] + 0.5 * x[:, 1])


def test_discriminator_scores_are_laid_out_for_origin_lower():
    scores = discriminator_scores(RightIsReal(), 1.0, resolution=3, device="cpu")
    axis = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.allclose(scores, axis[None, :] + 0.5 * axis[:, None])  # row i: y_i (from -1 up), column j: x_j


def _pixel(figure, axes, xy):
    """(row, column) of the data point `xy` of `axes` in the rendered figure."""
    x, y = axes.transData.transform(xy)
    return int(round(figure.bbox.height - y)), int(round(x))


def test_points_and_scores_are_drawn_where_they_belong():
    means = ring_means(8, 1.0).float()
    extent = plot_extent(means, 0.01)
    scores = discriminator_scores(RightIsReal(), extent, resolution=16, device="cpu")
    point = torch.tensor([[0.5, -0.5]])
    figure = mixture_figure(point, means, 0.01, mode_stats(point, means, 0.01), scores)
    with_point = render(figure).permute(1, 2, 0).numpy().astype(int)
    elsewhere = torch.tensor([[-0.5, 0.5]])
    other = render(mixture_figure(elsewhere, means, 0.01, mode_stats(elsewhere, means, 0.01), scores))
    other = other.permute(1, 2, 0).numpy().astype(int)
    assert with_point.shape == (400, 960, 3)
    changed = np.argwhere(np.abs(with_point - other).sum(-1) > 30)  # only where the two points are
    at_point, at_other = _pixel(figure, figure.axes[0], (0.5, -0.5)), _pixel(figure, figure.axes[0], (-0.5, 0.5))
    distance = np.minimum(np.abs(changed - at_point).max(axis=1), np.abs(changed - at_other).max(axis=1))
    assert len(changed) > 0 and distance.max() <= 3
    assert np.abs(changed - at_point).max(axis=1).min() <= 1
    row, column = at_point
    assert with_point[row, column, 2] > with_point[row, column, 0]  # a blue point
    left, right = _pixel(figure, figure.axes[0], (-0.9 * extent, 0.2)), _pixel(figure, figure.axes[0], (0.9 * extent, 0.2))
    purple, green = with_point[left], with_point[right]  # PRGn: low score purple (R > G), high green (G > R)
    assert purple[0] > purple[1] and green[1] > green[0]


def test_points_outside_the_view_are_counted_and_drawn_on_its_edge():
    means = ring_means(8, 1.0).float()
    points = torch.cat([means, torch.tensor([[50.0, 0.0], [0.0, -9.0]])])
    figure = mixture_figure(points, means, 0.01, mode_stats(points, means, 0.01))
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "2 outside the view (on its edge)" in labels and "generated (10)" in labels
    extent = plot_extent(means, 0.01)
    edge = figure.axes[0].collections[1].get_offsets()
    assert np.allclose(edge, [[extent, 0.0], [0.0, -extent]])


def test_the_pictures_numbers_are_the_metrics_on_the_same_points():
    """The picture SampleGrid draws takes the mode metric's points: its histogram and title give the
    logged values. A generator that puts z_1 < 0 on mode 0, z_1 >= 0 on mode 2 (and |z_2| > 2 far
    away) has known measures: 2/8 modes, the share of |z_2| <= 2, and log 8 - H(p)."""
    from types import SimpleNamespace

    from ganlab.callbacks.mixture_picture import picture_figure
    from ganlab.callbacks.mode_metrics import ModeMetrics
    from ganlab.latents.gaussian import GaussianLatent
    from ganlab.sampling import seeded_latent

    means = ring_means(8, 1.0).float()

    class TwoModes(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, z, y=None):
            x = torch.where((z[:, :1] < 0), means[0], means[2])
            return torch.where(z[:, 1:].abs() > 2, torch.tensor([3.0, 3.0]), x)

    metrics = ModeMetrics(num_samples=2500, seed=7)
    trainer = SimpleNamespace(datamodule=SimpleNamespace(means=means, sigma=0.01), callbacks=[metrics], loggers=[],
                              is_global_zero=True)
    module = SimpleNamespace(evaluation_generator=TwoModes(), latent=GaussianLatent(2), device="cpu", g_iter=40,
                             discriminator=RightIsReal())
    logged = metrics.evaluate(trainer, module)

    z = seeded_latent(GaussianLatent(2), 2500, 7).z
    good = z[:, 1].abs() <= 2
    counts = torch.zeros(8)
    counts[0], counts[2] = (good & (z[:, 0] < 0)).sum(), (good & (z[:, 0] >= 0)).sum()
    p = counts[[0, 2]] / counts.sum()
    assert logged == pytest.approx({"modes": 2.0, "high_quality": float(good.sum()) / 2500,
                                    "reverse_kl": math.log(8) + float((p * p.log()).sum())})

    figure = picture_figure(trainer, module, num_samples=64, seed=1234)  # the metric's points, not these
    histogram = figure.axes[1]
    assert [bar.get_height() for bar in histogram.patches] == counts.tolist()
    assert histogram.get_title().startswith(f"2/8 modes, {100 * logged['high_quality']:.1f}% high quality, "
                                            f"reverse KL {logged['reverse_kl']:.3f}\n(of 2,500 points")
    assert "generator iteration 40" in figure.get_suptitle()
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert f"{int((~good).sum())} outside the view (on its edge)" in labels


def test_timelapse_gif_has_one_frame_per_picture_and_is_never_rewritten(tmp_path):
    from PIL import Image

    from ganlab.callbacks.mixture_picture import write_timelapse

    for i, colour in ((10, "red"), (20, "green"), (30, "blue")):
        Image.new("RGB", (60, 40), colour).save(tmp_path / f"iter_{i:07d}.png")
    (tmp_path / "iter_x.png").touch()  # not a frame
    assert frame_paths(tmp_path, last=20) == [tmp_path / "iter_0000010.png", tmp_path / "iter_0000020.png"]
    gif = write_timelapse(tmp_path, 20)
    assert gif == tmp_path / "timelapse_0000020.gif"
    with Image.open(gif) as image:
        assert image.n_frames == 2 and image.size == (60, 40)
        image.seek(1)
        assert image.convert("RGB").getpixel((5, 5)) == (0, 128, 0)
    before = gif.read_bytes()
    Image.new("RGB", (60, 40), "white").save(tmp_path / "iter_0000020.png")
    assert write_timelapse(tmp_path, 20) is None and gif.read_bytes() == before  # kept as it was
    with Image.open(write_timelapse(tmp_path, 30)) as image:
        assert image.n_frames == 3
    assert write_timelapse(tmp_path / "none", 5) is None


def test_mlp_family_takes_vectors():
    from ganlab.networks.mlp import MLPAutoencoder, MLPDiscriminator, MLPGenerator

    g = MLPGenerator((2,), latent_dim=3, hidden=[8, 8], tanh=False)
    x = g(torch.randn(4, 3))
    assert x.shape == (4, 2) and not any(isinstance(m, nn.Tanh) for m in g.modules())
    assert isinstance(MLPGenerator((2,), latent_dim=3, hidden=[8]).net[-1], nn.Tanh)
    d = MLPDiscriminator((2,), hidden=[8, 8], minibatch_std=2)
    assert d(x).score.shape == (4,)
    layers = list(d.body)
    std = next(i for i, m in enumerate(layers) if isinstance(m, MinibatchStdDev))
    assert isinstance(layers[std + 1], nn.Linear) and layers[std + 1].in_features == 9  # before the last layer
    out = MLPAutoencoder((2,), hidden=[8, 4], minibatch_std=2)(x)
    assert out.score.shape == (4,) and out.reconstruction.shape == (4, 2)


def test_mixture_batches_carry_the_iterations_d_steps():
    data = GridDataModule(batch_size=10, num_workers=0, size=100, dataset_seed=0, batches_per_iteration=3)
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (3, 10, 2) and y.shape == (3, 10)


def test_mode_metrics_refuse_other_data():
    from types import SimpleNamespace

    from ganlab.callbacks.mode_metrics import ModeMetrics

    with pytest.raises(ConfigError, match="data=ring or data=grid"):
        ModeMetrics().on_fit_start(SimpleNamespace(datamodule=object()), None)
    with pytest.raises(ConfigError, match=r"^num_samples must be a positive integer, got 0$"):
        ModeMetrics(num_samples=0)
    with pytest.raises(ConfigError, match=r"^threshold must be a positive number, got 0$"):
        ModeMetrics(threshold=0)
