"""Gradient norms, the share of samples D judges right, the 'D loss stuck at 0' warning, and instance noise."""
import logging

import pytest
import torch
from torch import nn

from ganlab.augment.instance_noise import InstanceNoise
from ganlab.diagnostics import DiscriminatorWinsWatch, gradient_norm, share_above


def test_gradient_norm_is_the_norm_of_all_gradients_together():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net(torch.randn(5, 3)).pow(2).sum().backward()
    expected = torch.cat([p.grad.flatten() for p in net.parameters()]).norm()
    assert gradient_norm(net).item() == pytest.approx(expected.item(), rel=1e-6)
    assert gradient_norm(nn.Linear(2, 2)).item() == 0.0  # no gradients yet


def test_share_above():
    assert share_above(torch.tensor([1.0, -1.0, 2.0, 0.0]), 0.0).item() == 0.5
    assert share_above(torch.tensor([1.0, 3.0]), torch.tensor(2.0)).item() == 0.5


def test_watch_warns_once_after_patience_iterations_near_zero(caplog):
    watch = DiscriminatorWinsWatch(tolerance=1e-3, patience=3)
    with caplog.at_level(logging.WARNING, logger="ganlab.diagnostics"):
        for loss in (1e-4, 2e-4, 0.5, 1e-4, 0.0):  # the run restarts after 0.5
            watch.update(torch.tensor(loss))
        assert not watch.check(5)
        watch.update(torch.tensor(-5e-4))
        assert watch.check(6)
        for _ in range(5):
            watch.update(torch.tensor(0.0))
        assert not watch.check(11)
    assert len([r for r in caplog.records if "stayed within" in r.getMessage()]) == 1


def test_watch_off_with_patience_0():
    watch = DiscriminatorWinsWatch(patience=0)
    for _ in range(10):
        watch.update(torch.tensor(0.0))
    assert not watch.check(10)


def test_instance_noise_anneals_linearly_to_zero():
    noise = InstanceNoise(std=0.2, anneal_iterations=100)
    assert [noise.std_at(t) for t in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    x = torch.zeros(2000, 1, 4, 4)
    assert noise(x, 50).std().item() == pytest.approx(0.1, rel=0.03)
    assert noise(x, 100) is x


@pytest.mark.parametrize("kwargs, key", [({"std": -1.0}, "std"), ({"anneal_iterations": 0}, "anneal_iterations")])
def test_instance_noise_is_validated(kwargs, key):
    with pytest.raises(ValueError, match=key):
        InstanceNoise(**kwargs)


def test_threshold_and_relative_accuracy():
    from ganlab.diagnostics import relative_accuracy, threshold_accuracy

    real, fake = torch.tensor([2.0, -1.0, 0.5, 3.0]), torch.tensor([-2.0, 1.0, -0.5, -0.1])
    assert [v.item() for v in threshold_accuracy(real, fake)] == [0.75, 0.75]
    assert [v.item() for v in threshold_accuracy(real, fake, threshold=1.0)] == [0.5, 0.75]
    # energies: low is real
    assert [v.item() for v in threshold_accuracy(torch.tensor([0.1, 0.9]), torch.tensor([0.2, 2.0]), 0.5,
                                                 higher_is_real=False)] == [0.5, 0.5]
    # relative: the fakes' mean is -0.4, the reals' mean 1.125
    # (reals above -0.4: 3 of 4; fakes below 1.125: all 4)
    assert [v.item() for v in relative_accuracy(real, fake)] == [0.75, 1.0]
    shifted = [v.item() for v in relative_accuracy(real + 100, fake + 100)]
    assert shifted == [0.75, 1.0]  # no fixed threshold
