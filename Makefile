# ganlab: `make install` once, then `make train`, `make test`, `make tensorboard`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The PyTorch build to install; e.g. make install TORCH="torch torchvision" for the newest release.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install train test test-slow test-all results bench gpu-check quality mode-collapse reproduce-2d tensorboard clean
# make bench: CPU-sized networks whose step is mostly per-step overhead, timed in CPU time (steady on a
# shared machine), ganlab and a minimal LightningModule each against the plain loop, and their ratio;
# the figures go to results/bench_cpu.jsonl. On a GPU: make bench BENCH_ARGS="--device cuda --cases dcgan"
# (bench/README.md).
BENCH_ARGS ?= --device cpu --threads 1 --clock cpu --width 4 --image-size 16 --channels 1 --batch-sizes 64 \
	--segments 30 --segment-steps 20 --warmup 3 --num-images 10000 --cases dcgan wgan_gp pacgan \
	--b ganlab lightning --record bench_cpu

# make gpu-check: versions, throughput, mixed precision, multi-GPU and a short quality run, ~8 minutes on a
# GPU; DEVICE=cpu runs the same steps at tiny sizes (~2 minutes). Report: $(GPU_CHECK_OUT)/report.md.
DEVICE ?=
GPU_CHECK_OUT ?= outputs/gpu-check/$(shell date +%Y-%m-%d_%H-%M-%S)

# make quality: every loss x conditioning on MNIST at one budget, 3 seeds, one torch thread per job, scored
# by the MNIST classifier (callbacks/metrics=classifier), then a markdown table of mean +- std
# (bench/quality_table.py). The full grid is 72 jobs: hours on a CPU; shrink it with the variables, e.g.
# make quality DATA_ROOT=/datasets QUALITY_LOSSES=gan,hinge QUALITY_SEEDS=0 QUALITY_ITERATIONS=500
DATA_ROOT ?= data
QUALITY_LOSSES ?= gan,wgan_clip,wgan_gp,ebgan,lsgan,hinge
QUALITY_CONDITIONING ?= none,concat,projection,acgan
QUALITY_SEEDS ?= 0,1,2
QUALITY_ITERATIONS ?= 4000
QUALITY_ARGS ?=   # more overrides for every job, e.g. callbacks.metrics.num_samples=5000
QUALITY_STAMP := $(shell date +%Y-%m-%d_%H-%M-%S)
QUALITY_DIR ?= outputs/quality/$(QUALITY_STAMP)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[dev]"
	touch $@

train: install  ## quick start: a DCGAN on scikit-learn's digits, CPU, a few minutes
	$(PY) train.py experiment=quickstart

# make test / test-all: one pytest worker per core (pytest-xdist), one torch thread each, a test module on one
# worker (--dist loadscope: a module-scoped fixture, such as a trained run, is built once); TEST_WORKERS=0
# runs them in this process (as a plain `pytest` does), e.g. to debug one test with -x --pdb.
TEST_WORKERS ?= auto
TEST_RUN := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope
test: install  ## the test suite (about 3.5 minutes on 2 CPU cores)
	$(TEST_RUN)

test-slow: install  ## the slow tier: the full cross products, the wheel, the whole gpu-check (CI runs it too)
	$(TEST_RUN) -m slow

test-all: install  ## every test, the slow ones too (what CI runs)
	$(TEST_RUN) -m ""

results: install  ## docs/results.md and docs/reproductions.md from the records in results/*.jsonl
	$(PY) -m ganlab.results

bench: install  ## training throughput: a plain PyTorch loop vs ganlab's training path (a few minutes on a CPU)
	$(PY) bench/bench.py $(BENCH_ARGS)

gpu-check: install  ## does ganlab work here, and how fast? (bench/gpu_check.py; DEVICE=cpu: tiny sizes)
	$(PY) bench/gpu_check.py --out $(GPU_CHECK_OUT) $(if $(DEVICE),--device $(DEVICE)) --data-root $(DATA_ROOT)

quality: install  ## loss x conditioning on MNIST, 3 seeds, classifier FID/IS/class accuracy table (CPU: hours)
	OMP_NUM_THREADS=1 $(PY) train.py -m experiment=mnist_quality data.root=$(DATA_ROOT) \
		loss=$(QUALITY_LOSSES) conditioning=$(QUALITY_CONDITIONING) seed=$(QUALITY_SEEDS) \
		iterations=$(QUALITY_ITERATIONS) hydra.sweep.dir=$(QUALITY_DIR) $(QUALITY_ARGS); \
	status=$$?; $(PY) bench/quality_table.py $(QUALITY_DIR)/summary.csv; exit $$status

# make mode-collapse: PacGAN's Table 1 (Lin et al. 2018) on the CPU, one torch thread per run, niced, five
# sweeps side by side: GAN, PacGAN2, PacGAN4 (10 trials each) on the ring and on the grid at the presets'
# budget (iterations=200), ganlab's extra rows (MODE_EXTRA_TRIALS trials each) on both, and GAN and
# PacGAN2 on the ring at MODE_LONG iterations. About 25 CPU-minutes; then prints the table.
MODE_SWEEPS ?= outputs/multiruns/mode_collapse
MODE_EXTRA_TRIALS ?= 3
MODE_LONG ?= 1000
MODE_RUN := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 $(PY) train.py -m trainer.enable_progress_bar=false
mode-collapse: install  ## PacGAN's Table 1 on the CPU (~25 CPU-minutes); bench/mode_table.py prints it
	$(MODE_RUN) experiment=pacgan_ring 'seed=range(10)' +pacgan_row=gan,pacgan2,pacgan4 hydra.sweep.dir=$(MODE_SWEEPS)/ring & \
	$(MODE_RUN) experiment=pacgan_grid 'seed=range(10)' +pacgan_row=gan,pacgan2,pacgan4 hydra.sweep.dir=$(MODE_SWEEPS)/grid & \
	$(MODE_RUN) experiment=pacgan_ring 'seed=range($(MODE_EXTRA_TRIALS))' +pacgan_row=unrolled,wgan_gp,hinge,r1,minibatch_std \
	  hydra.sweep.dir=$(MODE_SWEEPS)/ring_extra & \
	$(MODE_RUN) experiment=pacgan_grid 'seed=range($(MODE_EXTRA_TRIALS))' +pacgan_row=unrolled,wgan_gp,hinge,r1,minibatch_std \
	  hydra.sweep.dir=$(MODE_SWEEPS)/grid_extra & \
	$(MODE_RUN) experiment=pacgan_ring 'seed=range(3)' +pacgan_row=gan,pacgan2 iterations=$(MODE_LONG) \
	  hydra.sweep.dir=$(MODE_SWEEPS)/ring_long & \
	wait
	$(PY) bench/mode_table.py $(MODE_SWEEPS)/ring $(MODE_SWEEPS)/ring_extra $(MODE_SWEEPS)/ring_long \
	  $(MODE_SWEEPS)/grid $(MODE_SWEEPS)/grid_extra

# make reproduce-2d: PacGAN's Table 1 (GAN, PacGAN2, PacGAN4 on the ring and the grid) and the unrolled ring
# (experiment=unrolled_ring: k = 10 beside the plain GAN at the same budget), one torch thread per run under
# nice, two runs side by side, trial 0 of every row first; per trial the figures go to
# results/pacgan_table1.jsonl and results/unrolled_ring.jsonl (the evaluations along the way to
# results/*_trajectory.jsonl). About 45 CPU-minutes at these budgets (the unrolled ring: about 22).
REPRO_2D_ARGS ?= --table-iterations 4000 --unrolled-iterations 10000 --trials 3 --workers 2
reproduce-2d: install  ## PacGAN's Table 1 and the unrolled ring on the CPU, figures to results/ (~45 CPU-minutes)
	$(PY) bench/reproduce_2d.py $(REPRO_2D_ARGS)

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs

clean:  ## remove run outputs and caches (keeps .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf multirun .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
