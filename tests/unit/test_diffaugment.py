"""DiffAugment (Zhao et al. 2020): shapes, differentiability, per-sample randomness, the statistics of
each operation, policy parsing and validation, and its wiring into the D calls of GANModule."""
import pytest
import torch

from ganlab.augment import POLICIES, DiffAugment
from ganlab.augment.diffaugment import brightness, contrast, cutout, saturation, translation


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 3, 32, 32), (2, 3, 64, 64)])
@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shape_and_dtype_are_kept(shape, policy):
    x = torch.rand(shape) * 2 - 1
    out = DiffAugment(policy)(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device


@pytest.mark.parametrize("policy", list(POLICIES) + ["color,translation,cutout"])
def test_gradient_flows_to_the_input(policy):
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_()
    weights = torch.randn(4, 3, 16, 16)
    (DiffAugment(policy)(x) * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_translation_gradient_is_the_shifted_upstream_gradient():
    # A gather: each output pixel reads one input pixel, so d(sum out)/dx counts how often each
    # input pixel is read: 0 or 1, and as many ones as pixels that were not shifted in from outside.
    x = torch.rand(8, 1, 16, 16, requires_grad=True)
    out = translation(x)
    out.sum().backward()
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    zeros_in = (out == 0).flatten(1).sum(1)  # padding pixels (x > 0 everywhere else)
    torch.testing.assert_close(x.grad.flatten(1).sum(1), (256 - zeros_in).float())


def test_every_sample_gets_its_own_draw():
    x = torch.rand(1, 3, 32, 32).expand(16, -1, -1, -1).contiguous()
    for policy in POLICIES:
        out = DiffAugment(policy)(x)
        distinct = {tuple(o.flatten()[::37].tolist()) for o in out}
        assert len(distinct) > 8, policy


def test_translation_shifts_by_at_most_an_eighth():
    # Image i is a ramp of column indices; after translation, the visible columns tell the shift.
    n, size = 400, 32
    cols = torch.arange(1, size + 1, dtype=torch.float32)  # 1..32 so that 0 means padding
    x = cols.expand(n, 1, size, size).contiguous()
    out = translation(x)
    row = out[:, 0, size // 2]  # (n, w): a middle row (vertical shift <= 4 keeps it inside)
    shifts = []
    for r in row:
        visible = r[r > 0]
        first = int((r > 0).nonzero()[0])
        assert torch.equal(visible, torch.arange(visible[0], visible[0] + len(visible)))  # a clean shift
        shifts.append(int(visible[0]) - 1 - first)
    assert max(abs(s) for s in shifts) == 4  # int(32 * 0.125 + 0.5)
    assert set(shifts) == set(range(-4, 5))  # every shift in [-4, 4] occurs
    assert abs(sum(shifts) / n) < 0.5  # symmetric


def test_translation_pads_with_zero():
    x = torch.ones(200, 1, 16, 16)
    out = translation(x)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    zero_fraction = (out == 0).float().mean().item()
    assert 0.05 < zero_fraction < 0.25  # shifts of up to 2 of 16 pixels along each axis


def test_cutout_zeroes_one_clipped_square_of_half_the_size():
    n, size = 300, 32
    x = torch.ones(n, 3, size, size)
    out = cutout(x)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])  # same mask per channel
    holes = out[:, 0] == 0  # (n, h, w)
    areas = holes.flatten(1).sum(1)
    assert areas.max() == 16 * 16 and areas.min() > 0
    for hole in holes[:50]:  # each hole is one axis-aligned rectangle (the square, clipped)
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole.sum() == len(rows) * len(cols)
        assert len(rows) <= 16 and len(cols) <= 16
    # centres uniform over the image: on average a bit under a quarter of the image is cut
    assert 0.15 < areas.float().mean() / size ** 2 < 0.25


def test_color_operations_match_their_definitions():
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    offset = brightness(x) - x
    assert torch.allclose(offset, offset[:, :1, :1, :1].expand_as(offset), atol=1e-6)  # per sample
    assert offset.min() >= -0.5 and offset.max() < 0.5
    # saturation keeps each pixel's channel mean; contrast keeps each image's mean
    torch.testing.assert_close(saturation(x).mean(1), x.mean(1), atol=1e-5, rtol=0)
    torch.testing.assert_close(contrast(x).mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5, rtol=0)
    factor = (contrast(x) - x.mean((1, 2, 3), keepdim=True)) / (x - x.mean((1, 2, 3), keepdim=True))
    per_sample = factor.flatten(1).median(1).values
    assert per_sample.min() >= 0.5 - 1e-4 and per_sample.max() < 1.5 + 1e-4


@pytest.mark.parametrize("policy", ["", [], " , "])
def test_empty_policy_is_the_identity(policy):
    x = torch.randn(4, 3, 16, 16)
    augment = DiffAugment(policy)
    assert augment.policy == []
    assert torch.equal(augment(x), x)


def test_policy_as_string_or_list():
    assert DiffAugment("color, cutout").policy == ["color", "cutout"]
    assert DiffAugment(["translation", "cutout"]).policy == ["translation", "cutout"]
    assert DiffAugment().policy == ["color", "translation", "cutout"]
    assert len(DiffAugment("color").augmentations) == 3  # brightness, saturation, contrast


def test_unknown_operation_is_named_with_the_valid_ones():
    with pytest.raises(ValueError) as error:
        DiffAugment("color,flip")
    message = str(error.value)
    assert message.startswith("policy must be") and "'flip'" in message  # augment.policy, once built from it
    for name in ("color", "translation", "cutout"):
        assert name in message


def test_same_seed_same_augmentation():
    x = torch.randn(4, 3, 16, 16)
    augment = DiffAugment()
    torch.manual_seed(3)
    a = augment(x)
    torch.manual_seed(3)
    assert torch.equal(augment(x), a)


def test_module_augments_real_and_fake_before_every_discriminator_call():
    """DiffAugment as a part of the step feeds D only augmented images, in D's step (real and fake)
    and in G's step, and G still learns through the augmentation."""
    from torch import nn

    from ganlab.losses import HingeLoss
    from ganlab.module import GANModule
    from ganlab.networks import DCGANGenerator, DOut

    from helpers import ToyData, fit_module

    produced, received = [], []

    class RecordingAugment(DiffAugment):
        def forward(self, x):
            out = super().forward(x)
            produced.append(out)
            return out

    class RecordingDiscriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3 * 8 * 8, 1)

        def forward(self, x, y=None):
            received.append(x)
            return DOut(score=self.linear(x.flatten(1)).squeeze(1))

    torch.manual_seed(0)
    generator = DCGANGenerator((3, 8, 8), latent_dim=4, width=4)
    module = GANModule(generator, RecordingDiscriminator(), HingeLoss(),
                       lambda p: torch.optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1),
                       parts={"augment": RecordingAugment("translation,cutout")}, iterations=1)
    data = ToyData(n=6, side=8, batch_size=6)
    data.images = data.images.expand(-1, 3, -1, -1).contiguous()  # (6, 3, 8, 8): RGB
    before = [p.detach().clone() for p in generator.parameters()]
    fit_module(module, data)  # one iteration: D's step on real and fake, then G's step
    real = data.images
    assert len(received) == 3 and all(r is p for r, p in zip(received, produced))
    assert sorted(map(tuple, (r.shape for r in received))) == [(6, 3, 8, 8)] * 3
    assert not any(torch.equal(r.sort(0).values, real.sort(0).values) for r in received[:1])  # D saw the augmented batch
    assert any(not torch.equal(b, p) for b, p in zip(before, generator.parameters()))
