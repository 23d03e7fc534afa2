"""Every shell command the documentation shows works as written.

The commands are taken from README.md, docs/*.md and bench/README.md: every line of a fenced ```bash /
```sh block (continuation lines joined, comments dropped) and every inline code span that starts with
`python train.py`, `python sample.py`, `ganlab-train` or `ganlab-sample`. Each must be one of:

- a train.py command: its overrides compose with Hydra's compose API, in-process, and every
  interpolation of the result resolves (a sweep `a=1,2` composes its first value); a few
  representative ones also run as the user types them, shrunk to a tiny budget (test_representative_*);
- a sample.py command: its overrides compose; three representative ones run against a checkpoint
  trained here;
- `make TARGET ...`: a target of the Makefile (`make -n` succeeds);
- `python bench/<script>.py ...`: the script exists and defines every `--flag` used;
- `python -m ganlab.results ...`: its argument parser accepts the arguments;
- a command on the explicit skip list below, each with its reason.
Anything else fails: a new kind of command needs a rule here.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

import ganlab.cli  # noqa: F401 - registers the resolvers conf/hydra/default.yaml uses
from ganlab import CONFIG_DIR
from ganlab.results import load
from ganlab.results_pages import main as results_main

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
INLINE_PREFIXES = ("python train.py", "python sample.py", "ganlab-train", "ganlab-sample")

# Programs a test cannot run; none of them is a ganlab command line (those compose, see above).
SKIP = {
    "tensorboard": "starts a web server",
    "pip": "installs from a package index (the network)",
    "source": "shell set-up (activating a virtual environment)",
    "cd": "shell set-up (the directory the next commands run in)",
}

# Shell values in commands (`$SLURM_NNODES`, `$(date ...)`) as a shell on a cluster would expand them.
SHELL_VALUES = {"SLURM_NNODES": "2", "SLURM_JOB_ID": "1234", "NODE_RANK": "0", "HEAD": "node0"}


@dataclass(frozen=True)
class Command:
    document: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def _expand(text: str) -> str:
    """Shell values and placeholders (`<run>`, `<date>_<time>`: what the reader fills in) as values."""
    text = re.sub(r"<[\w .-]+>", "filled_in", text)
    text = re.sub(r"\$\(date [^)]*\)", "2026-01-01_00-00-00", text)
    return re.sub(r"\$(\w+)", lambda m: SHELL_VALUES.get(m.group(1), m.group(0)), text)


def commands_in(path: Path) -> list[Command]:
    """The shell commands of one Markdown file, with their line numbers."""
    name = str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Command] = []
    fence: str | None = None
    pending, start = "", 0
    prose: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip() or "text"
            continue
        if fence is None:
            prose.append((number, line))
            continue
        if fence not in ("bash", "sh"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text, pending = pending + stripped, ""
        if text and not text.startswith("#"):
            found.append(Command(name, start, text))
    # inline code spans (they may wrap over lines within a paragraph)
    text = "\n".join(line for _, line in prose)
    offsets = [number for number, _ in prose]
    for match in re.finditer(r"`([^`]+)`", text):
        span = " ".join(match.group(1).split())
        if span.startswith(INLINE_PREFIXES):
            found.append(Command(name, offsets[text.count("\n", 0, match.start())], span))
    return found


ALL_COMMANDS = [command for path in DOCUMENTS for command in commands_in(path)]


def words(text: str) -> list[list[str]]:
    """The simple commands of a line (split at `&&`, `;`), each as words, comments dropped, leading
    environment assignments and `nice` / `env` / `srun` wrappers removed."""
    tokens = shlex.split(_expand(text), comments=True)
    parts, current = [], []
    for token in tokens:
        if token in ("&&", ";", "||"):
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    simple = []
    for argv in filter(None, parts):
        while argv and (re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]) or argv[0] in ("env", "srun", "nice")):
            argv = argv[1:] if argv[0] != "nice" else argv[1 + (len(argv) > 2 and argv[1] == "-n") * 2:]
        if argv:
            simple.append(argv)
    return simple


def kind_of(argv: list[str]) -> tuple[str, list[str]]:
    """(kind, arguments) of a simple command."""
    program = argv[0]
    if program.endswith("python") or program.endswith("python3"):
        if argv[1:2] == ["-m"]:
            return f"module:{argv[2]}", argv[3:]
        script = argv[1]
        if script in ("train.py", "sample.py"):
            return script.removesuffix(".py"), argv[2:]
        if script.startswith("bench/"):
            return "bench", argv[1:]
        return "unknown", argv
    if program in ("ganlab-train", "ganlab-sample"):
        return program.removeprefix("ganlab-"), argv[1:]
    if program == "torchrun":
        script = next(i for i, a in enumerate(argv) if a.endswith("train.py"))
        return "train", argv[script + 1:]
    if program == "make":
        return "make", argv[1:]
    if program in SKIP:
        return "skip", argv
    return "unknown", argv


CONFIG_DIR_FLAGS = ("--config-dir", "-cd")  # a user's config directory: joins the search path


def overrides_of(args: list[str]) -> list[str]:
    """Hydra overrides of a command line: flags (`-m`, `--cfg job`, `--help`) and `...` dropped, a sweep
    replaced by its first value, `--config-dir DIR` as the override that adds DIR to the search path."""
    plain: list[str] = []
    flag = None
    for arg in args:
        if flag is not None:
            if flag in CONFIG_DIR_FLAGS:
                plain.append(f"hydra.searchpath=[file://{(ROOT / arg).resolve()}]")
            flag = None
        elif arg.split("=", 1)[0] in CONFIG_DIR_FLAGS and "=" in arg:
            plain.append(f"hydra.searchpath=[file://{(ROOT / arg.split('=', 1)[1]).resolve()}]")
        elif arg in ("--cfg", "-c", "--package", "-p", *CONFIG_DIR_FLAGS):
            flag = arg
        elif arg.startswith("-") or arg == "...":
            continue
        else:
            plain.append(arg)
    result = []
    for override in OverridesParser.create().parse_overrides(plain):
        if override.is_sweep_override():
            key = override.input_line.split("=", 1)[0]
            result.append(f"{key}={next(iter(override.sweep_string_iterator()))}")
        else:
            result.append(override.input_line)
    return result


def test_command_parsing():
    assert words("OMP_NUM_THREADS=1 nice -n 10 python train.py a=1 'b=[1,2]'  # note") == [
        ["python", "train.py", "a=1", "b=[1,2]"]]
    assert [kind_of(argv)[0] for argv in words("python train.py x=1 && python bench/mode_table.py d")] == [
        "train", "bench"]
    assert kind_of(["torchrun", "--standalone", "train.py", "trainer=ddp"]) == ("train", ["trainer=ddp"])
    assert overrides_of(["-m", "--cfg", "job", "seed=range(3)", "+pacgan_row=gan,pacgan2", "..."]) == [
        "seed=0", "+pacgan_row=gan"]
    assert overrides_of(["--config-dir", "my_conf", "loss=mine"]) == [
        f"hydra.searchpath=[file://{ROOT / 'my_conf'}]", "loss=mine"]
    assert words("python sample.py ckpt_path=outputs/runs/<run>/last.ckpt")[0][2] == (
        "ckpt_path=outputs/runs/filled_in/last.ckpt")


@pytest.fixture(scope="module")
def hydra_configs():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


def compose_and_resolve(config_name: str, overrides: list[str], tmp_path: Path) -> None:
    """Composes the config as the command line would and resolves every value of it."""
    cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    finally:
        HydraConfig.instance().cfg = None  # the next test is another process's command line


def bench_flags_exist(args: list[str]) -> None:
    script = ROOT / args[0]
    assert script.is_file(), f"{args[0]} does not exist"
    source = script.read_text(encoding="utf-8")
    if args[0] == "bench/bench.py":
        source += (ROOT / "bench" / "lockstep.py").read_text(encoding="utf-8")
    for flag in (a.split("=", 1)[0] for a in args[1:] if a.startswith("--")):
        if flag != "--help":
            assert f'"{flag}"' in source, f"{args[0]} has no option {flag}"


def make_target_exists(args: list[str]) -> None:
    result = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"make -n {' '.join(args)}: {result.stderr.strip()}"


def test_the_docs_show_commands():
    documents = {command.document for command in ALL_COMMANDS}
    assert "README.md" in documents and len(ALL_COMMANDS) > 50
    kinds = {kind_of(argv)[0] for command in ALL_COMMANDS for argv in words(command.text)}
    assert {"train", "sample", "make", "bench", "skip"} <= kinds


COMPOSED: set[tuple[str, tuple[str, ...]]] = set()


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=[c.id for c in ALL_COMMANDS])
def test_doc_command_composes(command: Command, hydra_configs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in words(command.text):
        kind, args = kind_of(argv)
        assert kind != "unknown", f"{command.id}: `{' '.join(argv)}` is no command this test knows how to check"
        if kind in ("train", "sample"):
            overrides = overrides_of(args)
            if (kind, tuple(overrides)) not in COMPOSED:  # the same command on several pages: once
                compose_and_resolve(kind, overrides, tmp_path)
                COMPOSED.add((kind, tuple(overrides)))
        elif kind == "make":
            make_target_exists(args)
        elif kind == "bench":
            bench_flags_exist(args)
        elif kind == "module:ganlab.results":
            if args[:1] == ["add"]:  # parse only: the path is a placeholder
                assert results_main(args) == 2  # parsed; then refused: no such run directory
            else:
                assert results_main([*(args or ["render"]), "--check", "--results", str(ROOT / "results"),
                                     "--docs", str(ROOT / "docs")]) == 0
        else:
            assert kind == "skip", f"{command.id}: {kind}"


@pytest.mark.parametrize("kind, overrides", [
    ("train", ["model.generator.conditional_norm=true"]),  # a key the config does not have (needs +)
    ("train", ["loss=no_such_loss"]),
    ("train", ["optim.generator.lr=${no.such.key}"]),  # an interpolation that does not resolve
    ("sample", ["num_sample=3"]),  # a misspelt key
])
def test_a_command_that_does_not_compose_fails(kind, overrides, hydra_configs, tmp_path):
    with pytest.raises(Exception):
        compose_and_resolve(kind, overrides, tmp_path)


# --- a few commands run as the user types them, shrunk to a tiny budget ----------------------------

TINY = ["iterations=2", "logger=none", "trainer.enable_progress_bar=false"]
REPRESENTATIVE_TRAIN = "python train.py experiment=quickstart"
REPRESENTATIVE_SWEEP = "python train.py -m loss=gan,wgan_gp seed=0,1 data=digits iterations=2000"
REPRESENTATIVE_RESUME = "python train.py ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt iterations=20000"
REPRESENTATIVE_SAMPLE = [
    "python sample.py ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt num_samples=1000 out=samples.npz",
    "python sample.py ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt num_samples=16 out=pngs/",
    "python sample.py ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt mode=interpolate "
    "'interpolation.seeds=[0,1,2,3]' interpolation.steps=10 interpolation.out=interp.png",
]


def shown(text: str) -> str:
    """The command as the docs show it (it must be there: these tests follow the docs)."""
    shown_words = {tuple(shlex.split(c.text, comments=True)) for c in ALL_COMMANDS}
    assert tuple(shlex.split(text)) in shown_words, f"the docs no longer show `{text}`: update this test"
    return text


def run(text: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = shlex.split(text, comments=True)
    argv = [sys.executable, str(ROOT / argv[1]), *argv[2:], *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "GANLAB_CACHE_DIR": str(cwd / "cache")}
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"`{text}` failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_representative_commands_run(tmp_path):
    run_dir = tmp_path / "outputs" / "runs" / "doc_run"
    run(shown(REPRESENTATIVE_TRAIN), tmp_path, *TINY, f"hydra.run.dir={run_dir}")
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()

    # a finished run's figures as records (`python -m ganlab.results add`), from its own files
    assert results_main(["add", str(run_dir), "--benchmark", "doc", "--setting", "{experiment}",
                         "--metrics", "loss_d,loss_g", "--results", str(tmp_path / "results")]) == 0
    records = load([tmp_path / "results"])
    assert [(r.setting, r.metric, r.budget, r.seed) for r in records] == [
        ("quickstart", "loss_d", 2, 0), ("quickstart", "loss_g", 2, 0)]
    assert records[0].command.startswith("python train.py experiment=quickstart iterations=2")

    resume = shown(REPRESENTATIVE_RESUME).replace("<run>", "doc_run")
    run(resume, tmp_path, "iterations=3")
    assert '"iterations": 3' in (run_dir / "metrics.json").read_text()

    for text in REPRESENTATIVE_SAMPLE:
        run(shown(text).replace("<run>", "doc_run"), tmp_path, "num_samples=4")
    assert (tmp_path / "samples.npz").is_file() and len(list((tmp_path / "pngs").glob("*.png"))) == 4
    assert (tmp_path / "interp.png").is_file()

    sweep = tmp_path / "sweep"
    run(shown(REPRESENTATIVE_SWEEP), tmp_path, *TINY, f"hydra.sweep.dir={sweep}")
    summary = (sweep / "summary.csv").read_text()
    assert summary.count("completed") == 4, summary
