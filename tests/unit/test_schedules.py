"""Learning-rate schedules at known iterations, and the learning rate they set on an optimiser."""
import math

import pytest
import torch

from ganlab.schedules import Constant, Cosine, LinearDecay, set_learning_rate

T = 1000


def test_constant_is_one_everywhere():
    assert [Constant()(t) for t in (0, T // 2, T, 10 * T)] == [1.0, 1.0, 1.0, 1.0]


def test_linear_decay_at_0_half_and_end():
    schedule = LinearDecay(total=T)
    assert schedule(0) == 1.0
    assert schedule(T // 2) == pytest.approx(0.5)
    assert schedule(T) == 0.0
    assert schedule(T + 50) == 0.0  # a resumed run past its budget does not go negative
    assert schedule(250) == pytest.approx(0.75)


def test_cosine_at_0_half_and_end():
    schedule = Cosine(total=T)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(T // 2) == pytest.approx(0.5)
    assert schedule(T) == pytest.approx(0.0, abs=1e-12)
    assert schedule(T // 4) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_cosine_to_a_floor_as_r3gan():
    schedule = Cosine(total=T, final=0.25)  # 2e-4 -> 5e-5
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(T // 2) == pytest.approx(0.625)
    assert schedule(T) == pytest.approx(0.25)
    assert schedule(2 * T) == pytest.approx(0.25)


def test_set_learning_rate_scales_the_configured_lr():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=2e-4)
    schedule = LinearDecay(total=T)
    for t, factor in ((0, 1.0), (T // 2, 0.5), (T, 0.0), (T // 4, 0.75)):  # not cumulative
        set_learning_rate(opt, schedule, t)
        assert opt.param_groups[0]["lr"] == pytest.approx(2e-4 * factor)


def test_a_resumed_optimiser_continues_the_schedule_exactly():
    schedule = Cosine(total=T)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    for t in range(300):
        set_learning_rate(opt, schedule, t)
    state = opt.state_dict()  # what a checkpoint holds: the lr of iteration 299
    resumed = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=2e-4)  # built from the config
    resumed.load_state_dict(state)
    for t in (300, T // 2, T):
        set_learning_rate(opt, schedule, t)
        set_learning_rate(resumed, schedule, t)
        assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == pytest.approx(2e-4 * schedule(t))
    # an lr given when resuming wins: the schedule scales the configured lr, not the saved one
    faster = torch.optim.Adam(torch.nn.Linear(2, 1).parameters(), lr=4e-4)
    faster.load_state_dict(state)
    set_learning_rate(faster, schedule, T // 2)
    assert faster.param_groups[0]["lr"] == pytest.approx(4e-4 * 0.5)


@pytest.mark.parametrize("make, key", [(lambda: LinearDecay(total=0), "total"), (lambda: Cosine(total=-3), "total"),
                                       (lambda: LinearDecay(total=1.5), "total"),
                                       (lambda: Cosine(total=10, final=1.5), "final")])
def test_schedules_are_validated(make, key):
    with pytest.raises(ValueError, match=key):
        make()
