"""sample.py's output, in process: chunked generation gives the images of one draw, the streamed .npz
is what NumPy writes and reads, `out` is checked before any work and honoured in both modes."""
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ganlab import sample as sample_module
from ganlab.config_checks import ConfigError
from ganlab.sample import check_space, check_writable, image_chunks, output_of, write_npz, write_samples
from ganlab.sampling import generate

from helpers import ToyGenerator


def toy_generator() -> ToyGenerator:
    torch.manual_seed(0)
    generator = ToyGenerator(side=4, latent_dim=7).eval()
    generator.image_shape = (1, 4, 4)
    return generator


@pytest.mark.parametrize("n, chunk", [(100, 32), (5, 16), (64, 64), (1, 1024)])
def test_chunked_images_equal_one_draw(n, chunk):
    generator = toy_generator()
    chunks = list(image_chunks(generator, n, seed=3, device="cpu", classes=None, batch_size=8, chunk=chunk))
    assert all(len(c) <= chunk for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), generate(generator, n, seed=3, device="cpu"), rtol=0, atol=0)


def test_streamed_npz_reads_back_as_written(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 1), dtype=np.uint8)
    y = np.arange(10, dtype=np.int64) % 3
    path = tmp_path / "s.npz"
    write_npz(path, {"x": (x.shape, np.uint8, iter([x[:4], x[4:8], x[8:]])), "y": (y.shape, np.int64, iter([y]))})
    loaded = np.load(path)
    np.testing.assert_array_equal(loaded["x"], x)
    np.testing.assert_array_equal(loaded["y"], y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]  # no temporary file left


def test_an_interrupted_npz_write_leaves_no_file(tmp_path):
    def chunks():
        yield np.zeros((2, 1), np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_npz(tmp_path / "s.npz", {"x": ((4, 1), np.uint8, chunks())})
    assert list(tmp_path.iterdir()) == []


def test_samples_never_hold_more_than_a_chunk(tmp_path, monkeypatch):
    """The images pass through one chunk at a time: at most CHUNK of them exist at once."""
    monkeypatch.setattr(sample_module, "CHUNK", 16)
    sizes = []
    original = sample_module.to_uint8
    monkeypatch.setattr(sample_module, "to_uint8", lambda images: (sizes.append(len(images)), original(images))[1])
    cfg = OmegaConf.create({"num_samples": 40, "labels": None, "seed": 0, "batch_size": 8, "grid_size": 9})
    out = write_samples(cfg, toy_generator(), "cpu", tmp_path / "s.npz")
    assert sizes == [16, 16, 8]
    assert np.load(out)["x"].shape == (40, 4, 4, 1)
    assert (tmp_path / "s_grid.png").is_file()


def test_out_is_checked_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=rf"^out={blocker}/s.npz: {blocker} is a file, not a directory"):
        check_writable(blocker / "s.npz", directory=False)
    with pytest.raises(ConfigError, match="is a file; PNG samples go into a directory"):
        check_writable(blocker, directory=True)
    with pytest.raises(ConfigError, match="is a directory; give a file name"):
        check_writable(tmp_path, directory=False)
    with pytest.raises(ConfigError, match=r"^num_samples=1000000000000 needs about 16.0 TB .* Ask for fewer"):
        check_space(tmp_path / "s.npz", 10**12, (1, 4, 4))
    check_space(tmp_path / "s.npz", 1000, (1, 4, 4))


def config(**values):
    base = {"mode": "samples", "out": None, "interpolation": {"out": "interpolation.png"}}
    base.update(values)
    return OmegaConf.create(base)


def test_out_is_honoured_in_both_modes(tmp_path):
    assert output_of(config(mode="interpolate", out=str(tmp_path / "strip.png"))) == tmp_path / "strip.png"
    assert output_of(config(mode="interpolate", interpolation={"out": str(tmp_path / "i.png")})) == tmp_path / "i.png"
    assert output_of(config(out=str(tmp_path / "x.npz"))) == tmp_path / "x.npz"
    with pytest.raises(ConfigError, match=r"^out=.*strip.npz: mode=interpolate writes one image"):
        output_of(config(mode="interpolate", out=str(tmp_path / "strip.npz")))
    assert Path(output_of(config())) == Path("samples.npz")  # the default
