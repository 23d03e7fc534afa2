"""Periodic checkpoints fall on generator-iteration boundaries: iter_N.ckpt holds exactly N
generator and N x k discriminator steps, each file is written once, and resuming from any of them
continues the run exactly as if it had never stopped."""
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ganlab.callbacks import IterationCheckpoint

from helpers import RecordingLogger


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def optimizer_steps(checkpoint: dict) -> list[set[int]]:
    """The Adam step counts in each optimiser state of a checkpoint: [G's, D's]."""
    return [{int(s["step"]) for s in state["state"].values()} for state in checkpoint["optimizer_states"]]


class CountWrites(pl.Callback):
    def __init__(self, monkeypatch):
        self.writes: list[str] = []
        original = pl.Trainer.save_checkpoint

        def save(trainer, path, *args, **kwargs):
            self.writes.append(Path(path).name.split(".")[0])
            return original(trainer, path, *args, **kwargs)

        monkeypatch.setattr(pl.Trainer, "save_checkpoint", save)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_a_periodic_checkpoint_holds_whole_iterations_and_is_written_once(tmp_path, toy_module, fit, monkeypatch, k):
    writes = CountWrites(monkeypatch)
    module = toy_module(d_steps_per_g_step=k, iterations=5)
    fit(module, callbacks=[IterationCheckpoint(str(tmp_path), every_n=2)])
    assert writes.writes == ["iter_0000002", "last", "iter_0000004", "last", "last"]  # each file once per iteration
    for n in (2, 4):
        saved = load(tmp_path / f"iter_{n:07d}.ckpt")
        assert (saved["ganlab"]["g_iter"], saved["ganlab"]["d_iter"]) == (n, n * k)
        assert optimizer_steps(saved) == [{n}, {n * k}]
        assert saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == n - 1  # saved in batch n
    last = load(tmp_path / "last.ckpt")
    assert (last["ganlab"]["g_iter"], last["ganlab"]["d_iter"]) == (5, 5 * k) and optimizer_steps(last) == [{5}, {5 * k}]


def train(tmp_path, toy_module, fit, toy_data, k, iterations, ckpt_path=None):
    module = toy_module(d_steps_per_g_step=k, iterations=iterations, log_every_n=1)
    logger = RecordingLogger()
    data = toy_data(n=40, batches_per_iteration=k)  # 5 batches an epoch: iterations cross epoch boundaries
    fit(module, data, callbacks=[IterationCheckpoint(str(tmp_path), every_n=2)], logger=logger, ckpt_path=ckpt_path)
    return module, logger.logged


def state(module) -> dict[str, torch.Tensor]:
    g_opt, d_opt = module.optimizers(use_pl_optimizer=False)
    tensors = dict(module.state_dict())
    for player, opt in (("g", g_opt), ("d", d_opt)):
        for i, s in enumerate(opt.state.values()):
            tensors.update({f"{player}_opt.{i}.{name}": value for name, value in s.items()})
    return tensors


@pytest.mark.parametrize("k", [1, 3])
def test_resuming_from_a_periodic_checkpoint_equals_the_uninterrupted_run(tmp_path, toy_module, fit, toy_data, k):
    straight, straight_log = train(tmp_path / "a", toy_module, fit, toy_data, k, iterations=7)
    assert [step for step, _ in straight_log] == list(range(1, 8))  # each step once
    resumed, resumed_log = train(tmp_path / "b", toy_module, fit, toy_data, k, iterations=7,
                                 ckpt_path=tmp_path / "a" / "iter_0000004.ckpt")
    assert (resumed.g_iter, resumed.d_iter) == (7, 7 * k)
    assert [step for step, _ in resumed_log] == [5, 6, 7]  # continues at the next step, each once
    for (step, values), (same_step, expected) in zip(resumed_log, straight_log[4:], strict=True):
        assert step == same_step and values == pytest.approx(expected, rel=1e-6, abs=1e-7)
    a, b = state(straight), state(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=0, msg=name)
