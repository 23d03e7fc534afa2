"""`bench/gpu_check.py` (`make gpu-check`): every step's code path on the CPU at the smallest sizes,
and a failing or overrunning step reported without stopping the others.

The GPU-only parts (NCCL, float16 loss scaling on a GPU, the CUDA bench columns) run only where a GPU
is; here the same steps run on the CPU: bf16 for both precisions, `trainer=ddp_cpu` for the
data-parallel step, scikit-learn's digits for the quality run.
"""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import gpu_check  # noqa: E402

STEP_NAMES = ["versions", "bench", "precision", "ddp", "quality"]


def records(results_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (results_dir / "gpu_check.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def smoke_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    code = gpu_check.main(["--out", str(out), "--device", "cpu", "--scale", "smoke", "--results-dir",
                           str(out / "results")])
    return code, out


@pytest.mark.slow  # the whole check at its smallest sizes: ~40 CPU-seconds
def test_every_step_runs_and_passes_on_the_cpu(smoke_check):
    code, out = smoke_check
    check = json.loads((out / "check.json").read_text())
    steps = {s["name"]: s for s in check["steps"]}
    assert list(steps) == STEP_NAMES
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(STEP_NAMES, "ok"), \
        {name: s["reason"] for name, s in steps.items()}
    assert code == 0
    assert check["versions"]["torch"] and check["versions"]["hardware"].startswith("cpu (")


@pytest.mark.slow  # the whole check at its smallest sizes: ~40 CPU-seconds
def test_the_report_has_each_steps_figures(smoke_check):
    _, out = smoke_check
    report = (out / "report.md").read_text()
    for number, name in enumerate(STEP_NAMES, start=1):
        assert f"## {number}. {name}: ok" in report
    check = json.loads((out / "check.json").read_text())
    steps = {s["name"]: s for s in check["steps"]}
    # bench: both (b) sides of one setting, and their ratio
    assert [row["side"] for row in steps["bench"]["figures"]["rows"]] == ["ganlab", "lightning"]
    assert list(steps["bench"]["figures"]["ganlab_over_minimal"]) == ["dcgan / 32-true / batch 8 / resident"]
    assert "| dcgan | 32-true | 8 | resident | ganlab |" in report
    # precision: each run checked, its terms all finite, the run's actual precision named
    precision = steps["precision"]["figures"]
    assert list(precision) == ["wgan_gp / 16-mixed", "r1 / bf16-mixed"]
    for probe in precision.values():
        assert probe["nonfinite"] == {} and probe["iterations"] == 2
        assert probe["precision"] == "bf16-mixed"  # Lightning runs 16-mixed as bf16-mixed on a CPU
        assert probe["loss_scale"] is None and probe["changed_tensors"] > 0
    assert "loss_d_gradient_penalty" in precision["wgan_gp / 16-mixed"]["largest"]
    assert "loss_d_r1" in precision["r1 / bf16-mixed"]["largest"]
    # ddp: two gloo ranks with identical, trained weights
    ddp = steps["ddp"]["figures"]
    assert ddp["ranks"] == 2 and ddp["differing_tensors"] == [] and ddp["changed_tensors"] > 0
    # quality: the classifier metric at the end
    quality = steps["quality"]["figures"]
    assert quality["iterations"] == 2 and quality["fid"] > 0 and 0 < quality["classifier_accuracy"] <= 1
    assert (out / "runs" / "quality" / "metrics.json").is_file()


@pytest.mark.slow  # the whole check at its smallest sizes: ~40 CPU-seconds
def test_the_figures_are_results_records(smoke_check):
    _, out = smoke_check
    entries = records(out / "results")
    passed = {r["setting"]: r["value"] for r in entries if r["metric"] == "passed"}
    assert passed == {f"step: {name}": 1.0 for name in STEP_NAMES}
    metrics = {(r["setting"], r["metric"]) for r in entries}
    assert ("dcgan / 32-true / batch 8 / resident", "ganlab / minimal LightningModule") in metrics
    assert ("precision: wgan_gp / 16-mixed", "nonfinite_terms") in metrics
    assert ("ddp: gloo, 2 CPU processes", "differing_tensors") in metrics
    assert any(s.startswith("quality: cifar10_dcgan on scikit-learn digits") and m == "fid" for s, m in metrics)
    assert all(r["benchmark"] == "gpu_check" and r["hardware"].startswith("cpu (") for r in entries)
    assert all("bench/gpu_check.py" in r["command"] or "bench/bench.py" in r["command"] for r in entries)


def test_a_failing_or_overrunning_step_is_reported_and_the_others_run(tmp_path, monkeypatch):
    smoke = gpu_check.SCALES["smoke"]
    monkeypatch.setitem(gpu_check.SCALES, "smoke", gpu_check.Scale(
        **{**smoke.__dict__, "limits": {**smoke.limits, "versions": 2}}))

    def hanging_versions(self, clock):  # a process that outlives its step's limit is stopped
        self.run([sys.executable, "-c", "import time; time.sleep(60)"], "versions", clock)

    def broken_bench(self, clock):
        raise RuntimeError("the bench broke")

    def quick_quality(self, clock):
        return gpu_check.StepResult("quality", markdown="ran after the failures")

    monkeypatch.setattr(gpu_check.Check, "step_versions", hanging_versions)
    monkeypatch.setattr(gpu_check.Check, "step_bench", broken_bench)
    monkeypatch.setattr(gpu_check.Check, "step_quality", quick_quality)
    code = gpu_check.main(["--out", str(tmp_path), "--device", "cpu", "--scale", "smoke", "--skip", "precision",
                           "ddp", "--results-dir", str(tmp_path / "results")])
    assert code == 1
    steps = {s["name"]: s for s in json.loads((tmp_path / "check.json").read_text())["steps"]}
    assert steps["versions"]["status"] == "timeout" and "time limit" in steps["versions"]["reason"]
    assert steps["versions"]["seconds"] < 30
    assert steps["bench"]["status"] == "failed" and "RuntimeError: the bench broke" in steps["bench"]["reason"]
    assert steps["precision"]["status"] == steps["ddp"]["status"] == "skipped"
    assert steps["quality"]["status"] == "ok"
    report = (tmp_path / "report.md").read_text()
    assert "## 1. versions: timeout" in report and "ran after the failures" in report
    assert "Skipped: --skip" in report
    passed = {r["setting"]: r["value"] for r in records(tmp_path / "results") if r["metric"] == "passed"}
    assert passed == {"step: versions": 0.0, "step: bench": 0.0, "step: precision": 0.0, "step: ddp": 0.0,
                      "step: quality": 1.0}


def test_ddp_is_skipped_with_the_reason_on_one_gpu(tmp_path):
    check = gpu_check.Check(gpu_check.parse_args(["--out", str(tmp_path), "--device", "cuda"]))
    check.versions = {"gpus": [{"name": "a GPU", "memory_gib": 80.0, "capability": "9.0"}]}
    result = check.step_ddp(gpu_check.Clock(10))
    assert result.status == "skipped" and "1 GPU visible" in result.reason


def test_quality_data_is_cifar10_where_the_root_has_it(tmp_path):
    check = gpu_check.Check(gpu_check.parse_args(["--out", str(tmp_path / "out"), "--device", "cpu",
                                                  "--data-root", str(tmp_path)]))
    assert check.data_overrides()[1] == ["data=digits", "data.image_size=32"]
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    assert check.data_overrides()[1][0] == "data=mnist"
    (tmp_path / "cifar10-train" / "cat").mkdir(parents=True)
    assert check.data_overrides()[1][:2] == ["data=image_folder", f"data.root={tmp_path / 'cifar10-train'}"]
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert check.data_overrides()[1] == ["data=cifar10", f"data.root={tmp_path}"]
