"""GANModule: the training step of a GAN, orchestration only.

Everything the step uses is handed in as a built object (networks, the adversarial loss, the other
parts of the step, optimiser factories, the EMA); nothing is picked by name here.

Units: one Lightning batch is one *generator iteration*: it carries the `d_steps_per_g_step` real
batches of its discriminator steps (real (k, b, c, h, w), labels (k, b); see ganlab.data), and
`training_step` runs the k discriminator steps, then the generator step. Lightning's batch
counter is therefore the generator iteration (`g_iter`): the budget, the logs, the sample grids,
the metrics, the EMA and the checkpoints all key on it through Lightning's ordinary per-batch
hooks, and every stop and checkpoint falls on an iteration boundary. Lightning's `global_step`
counts every optimiser step of both players (k + 1 per iteration) and is not used.

The parts of a step (the adversarial loss first, then the auxiliary class losses, InfoGAN's term,
the regularisers, the constraints, the transforms of D's inputs, ...: `ganlab.step.StepPart`) are
one list, and the step calls the same hooks of each: they return named terms from the step's
context; each term is logged by its name (`ganlab.names`) and checked for divergence
(`ganlab.divergence`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from ganlab import checks, names
from ganlab.checkpoints import STATE_KEY
from ganlab.diagnostics import DiscriminatorWinsWatch, gradient_norm
from ganlab.divergence import DivergenceMonitor
from ganlab.ema import GeneratorEMA
from ganlab.latents import Codes, GaussianLatent, Latent, LatentSample
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import Generator
from ganlab.schedules import LRSchedule, set_learning_rate
from ganlab.step import DiscriminatorStep, GeneratorStep, StepPart, Terms, add_terms, total

OptimizerFactory = Callable[..., torch.optim.Optimizer]


class GANModule(pl.LightningModule):
    def __init__(
        self,
        generator: Generator,  # G(z, y=None) -> (n, c, h, w) in [-1, 1]
        discriminator: nn.Module,  # D(x, y=None) -> DOut
        loss: AdversarialLoss,  # the adversarial objective, the step's first part
        generator_optimizer: OptimizerFactory,  # params -> optimiser (a Hydra partial)
        discriminator_optimizer: OptimizerFactory,
        parts: Mapping[str, StepPart] | None = None,  # name -> the step's other parts, in the order they act
        generator_ema: GeneratorEMA | None = None,  # an average of G, updated after every G step
        d_steps_per_g_step: int = 1,  # discriminator updates per generator update (k)
        iterations: int = 10_000,  # budget in generator iterations
        num_classes: int = 0,  # > 0: G and D receive labels
        log_every_n: int = 50,  # generator iterations between scalar logs
        detect_divergence: bool = True,  # stop at the first non-finite term or weight (ganlab.divergence)
        generator_schedule: LRSchedule | None = None,  # G's lr factor per generator iteration (None: constant)
        discriminator_schedule: LRSchedule | None = None,  # D's, counted in generator iterations too
        d_loss_watch: DiscriminatorWinsWatch | None = None,  # warns once when D's loss stays near 0
        latent: Latent | None = None,  # what G reads (conf/latent/); None: N(0, I) of G's latent_dim
    ):
        super().__init__()
        if not isinstance(generator, Generator):
            raise TypeError(f"the generator must be a ganlab.networks.Generator (latent_dim, num_classes, "
                            f"conditional), got {type(generator).__name__}")
        for key, value in (("d_steps_per_g_step", d_steps_per_g_step), ("iterations", iterations),
                           ("log_every_n", log_every_n)):
            checks.positive_int(value, key)  # (config keys loss.d_steps_per_g_step, ...: config_checks.TRAIN_SCHEMA)
        latent = latent if latent is not None else GaussianLatent(generator.latent_dim)
        if latent.input_dim != generator.latent_dim:
            raise ValueError(f"the latent draws inputs of size {latent.input_dim}, but the generator reads "
                             f"{generator.latent_dim}: build G with latent_dim=latent.input_dim")
        self.automatic_optimization = False
        self.latent = latent
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema = generator_ema
        self.loss = loss  # registered (and saved: loss.<buffer>) when it is an nn.Module with state
        parts = dict(parts or {})
        self.parts: dict[str, StepPart] = {"loss": loss, **parts}  # what the step calls, in this order
        # Parts that are nn.Modules are registered, so state they keep in buffers is saved and moved.
        self.part_modules = nn.ModuleDict({name.replace(".", "_"): part for name, part in parts.items()
                                           if isinstance(part, nn.Module)})
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.d_steps_per_g_step = d_steps_per_g_step
        self.iterations = iterations
        self.num_classes = num_classes
        self.log_every_n = log_every_n
        self.detect_divergence = detect_divergence
        self.generator_schedule = generator_schedule
        self.discriminator_schedule = discriminator_schedule
        self.d_loss_watch = d_loss_watch
        self.g_iter = 0  # generator updates so far (= Lightning batches trained)
        self.d_iter = 0  # discriminator updates so far
        self._restored_rng: dict[str, Any] | None = None
        self.divergence = DivergenceMonitor()  # run() gives it the configured bounds (conf: divergence)

    # --- what the rest of ganlab reads -------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def evaluation_generator(self) -> Generator:
        """The generator that sample grids, metrics and sample.py show: the EMA when the run keeps
        one, else the trained generator."""
        return self.generator if self.generator_ema is None else self.generator_ema.average

    def sample_latent(self, n: int) -> LatentSample:
        """G's inputs for n samples (z (n, latent_dim), and the codes inside them for InfoGAN):
        the one place the step draws noise."""
        return self.latent.sample(n, device=self.device)

    def sample_noise(self, n: int) -> Tensor:
        """G's inputs for n samples (n, latent_dim), without the codes."""
        return self.sample_latent(n).z

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.generator(z, y)

    def configure_optimizers(self):
        g_opt = self.generator_optimizer(self.generator.parameters())
        d_opt = self.discriminator_optimizer(self.discriminator.parameters())
        return [g_opt, d_opt]

    def check_divergence(self) -> None:
        """Reads the verdict of the last iteration and checks G's and D's weights and buffers (host
        syncs); raises DivergenceError if anything is NaN or Inf. A no-op with detect_divergence=False."""
        if self.detect_divergence:
            self.divergence.check(self._players(), self.g_iter, self.d_iter)

    def _players(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    # --- the step ------------------------------------------------------------------------------
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Terms:
        """One generator iteration; returns its step terms (detached, on the device), which callbacks
        receive as `outputs` in on_train_batch_end (e.g. the lr halving on BEGAN's M_global)."""
        real, labels = batch  # (k, b, c, h, w), (k, b): the real batches of this iteration's D steps
        if real.shape[0] != self.d_steps_per_g_step:
            raise ValueError(f"a batch holds {real.shape[0]} real batches, but loss.d_steps_per_g_step="
                             f"{self.d_steps_per_g_step}: build the DataModule with batches_per_iteration="
                             f"{self.d_steps_per_g_step}")
        g_opt, d_opt = self.optimizers()
        self._schedule_learning_rates(g_opt, d_opt)
        diagnose = self._logs_scalars(self.g_iter + 1)  # gradient norms on logging iterations only
        parts = list(self.parts.values())
        steps: list[tuple[int, Terms, Tensor]] = []  # (discriminator steps taken, terms, loss) of every step

        for i in range(self.d_steps_per_g_step):
            y = labels[i] if self.num_classes > 0 else None
            # One generator forward per D step; D sees it detached, G's step reuses the last one.
            latent = self.sample_latent(real.shape[1])
            with torch.set_grad_enabled(i == self.d_steps_per_g_step - 1):
                fake = self.generator(latent.z, y)  # (b, c, h, w)
            d_step, d_terms, d_loss = self._discriminator_step(
                d_opt, parts, real[i], fake.detach(), y, diagnose=diagnose and i == self.d_steps_per_g_step - 1,
                codes=latent.codes)
            steps.append((self.d_iter, d_terms, d_loss))

        g_terms, g_loss = self._generator_step(g_opt, parts, d_step, fake, diagnose=diagnose, d_opt=d_opt)
        steps.append((self.d_iter, g_terms, g_loss))
        if self.d_loss_watch is not None and names.D_LOSS in d_terms:
            self.d_loss_watch.update(d_terms[names.D_LOSS])  # on the device; read on logging iterations
        self.g_iter += 1
        if self.generator_ema is not None:
            self.generator_ema.update(self.generator, self.g_iter)
        if self.detect_divergence:
            self._push_verdict(steps)
        if self.g_iter >= self.iterations:
            self.trainer.should_stop = True
        terms = {**d_terms, **g_terms}
        self._log(terms, d_step)
        return terms

    def _discriminator_step(self, d_opt, parts: list[StepPart], real: Tensor, fake: Tensor,
                            y: Tensor | None, diagnose: bool = False,
                            codes: Codes | None = None) -> tuple[DiscriminatorStep, Terms, Tensor]:
        step = DiscriminatorStep(self.discriminator, real, fake, y, d_real=self.discriminator(self._augmented(real), y),
                                 d_fake=self.discriminator(self._augmented(fake), y), index=self.d_iter, codes=codes)
        terms: Terms = {}
        for part in parts:
            add_terms(terms, part.discriminator_terms(step))
        loss = total(terms)
        self.manual_backward(loss)  # no player holds gradients between steps (zeroed after each)
        d_opt.step()
        if diagnose:  # after the step: a float16 loss scaler has unscaled the gradients in place
            terms[names.GRAD_NORM_D] = gradient_norm(self.discriminator)
        d_opt.zero_grad(set_to_none=True)
        for part in parts:  # controllers (BEGAN's k_t), constraints (weight clipping), reports
            add_terms(terms, part.discriminator_step_done(step))
        self.d_iter += 1
        return step, {name: value.detach() for name, value in terms.items()}, loss.detach()

    def _generator_step(self, g_opt, parts: list[StepPart], last: DiscriminatorStep, fake: Tensor,
                        diagnose: bool = False, d_opt=None) -> tuple[Terms, Tensor]:
        # D's weights are frozen for this backward: no wasted gradients, and no way to update D.
        self.discriminator.requires_grad_(False)
        try:
            step = GeneratorStep(self.discriminator, last.real, fake, last.labels,
                                 d_fake=self.discriminator(self._augmented(fake), last.labels), index=self.g_iter,
                                 augment=self._augmented, discriminator_optimizer=d_opt, codes=last.codes)
            terms: Terms = {}
            for part in parts:
                add_terms(terms, part.generator_terms(step))
            loss = total(terms)
            self.manual_backward(loss)
            g_opt.step()
            if diagnose:
                terms[names.GRAD_NORM_G] = gradient_norm(self.generator)
            g_opt.zero_grad(set_to_none=True)
        finally:
            self.discriminator.requires_grad_(True)
        return {name: value.detach() for name, value in terms.items()}, loss.detach()

    def _schedule_learning_rates(self, g_opt, d_opt) -> None:
        """Each player's lr for this generator iteration: its configured lr times its schedule's factor
        (a function of g_iter alone, so a resumed run continues the curve exactly)."""
        for optimizer, schedule in ((g_opt, self.generator_schedule), (d_opt, self.discriminator_schedule)):
            if schedule is not None:
                set_learning_rate(optimizer, schedule, self.g_iter)

    def _logs_scalars(self, g_iter: int) -> bool:
        """Whether generator iteration `g_iter` (1-based) writes scalars to the loggers."""
        return g_iter % self.log_every_n == 0 or g_iter == 1

    def _augmented(self, x: Tensor) -> Tensor:
        """What D sees of `x`: the parts' input transforms (DiffAugment, instance noise, ...) in order."""
        for part in self.parts.values():
            x = part.discriminator_input(x, self.g_iter)
        return x

    def _push_verdict(self, steps: list[tuple[int, Terms, Tensor]]) -> None:
        """This iteration's verdict (each step's loss: finite?) is computed on the device; the
        previous iteration's is read now, after this one's work is queued, so an accelerator never
        idles on the read. The weights are checked at checkpoints, at the end and when a loss
        diverged (ganlab.divergence says why that suffices)."""
        new = self.divergence.verdict(steps, g_iter=self.g_iter)
        if self._trainer is not None and self.trainer.world_size > 1:  # all ranks stop at the same iteration
            new.finite = self.trainer.strategy.reduce(new.finite.float(), reduce_op="min").bool()
        self.divergence.push(new, self._players())

    def _log(self, terms: Terms, last: DiscriminatorStep) -> None:
        # At the end of generator iterations 1, every `log_every_n`-th and the last; not every
        # iteration. The values are averaged over data-parallel ranks, copied to the CPU once (the
        # one host sync of a logging iteration) and handed to Lightning from there, so its
        # progress bar (which reads every logged value back after every batch) never waits on the
        # device. The progress bar and trainer.callback_metrics (run()'s final losses) show the
        # terms of the last logged iteration as loss_<what>; the loggers get the scalars every
        # `log_every_n` iterations with the generator iteration as their step, written directly:
        # Lightning's `self.log(..., logger=True)` would send the last logged values again at every
        # later batch it logs, and counts its logger step from 0. Costs measured in bench/README.md.
        scalars_due = self._logs_scalars(self.g_iter)
        if not (scalars_due or self.g_iter >= self.iterations):
            return
        real_as_real, fake_as_fake = self.loss.real_fake_accuracy(last.d_real, last.d_fake)
        values = {**terms, names.D_REAL: last.d_real.score.detach().mean(),
                  names.D_FAKE: last.d_fake.score.detach().mean(),
                  names.REAL_AS_REAL: real_as_real, names.FAKE_AS_FAKE: fake_as_fake}
        keys = list(values)
        stacked = torch.stack([values[k].float() for k in keys])  # (n,)
        if self.trainer.world_size > 1:  # every rank logs at the same iteration: reduce, then rank 0 writes
            stacked = self.trainer.strategy.reduce(stacked, reduce_op="mean")
        stacked = stacked.cpu()
        if self.d_loss_watch is not None and self.trainer.is_global_zero:
            self.d_loss_watch.check(self.g_iter)  # its count is ready: the copy above waited for the device
        self.log_dict({names.progress_name(k): v for k, v in zip(keys, stacked) if k.startswith(names.LOSS)},
                      prog_bar=True, logger=False)
        if not scalars_due or not self.trainer.is_global_zero or not self.loggers:
            return
        g_opt, d_opt = self.optimizers()
        scalars = dict(zip(keys, stacked.tolist()))
        scalars[names.LR_G] = float(g_opt.param_groups[0]["lr"])
        scalars[names.LR_D] = float(d_opt.param_groups[0]["lr"])
        for logger in self.loggers:
            logger.log_metrics(scalars, step=self.g_iter)

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        # Resumed: continue the saved random stream. Several ranks: each draws its own noise
        # (seed_everything gave every rank the same seed).
        if self._restored_rng is not None:
            torch.set_rng_state(self._restored_rng["torch"])
            cuda = self._restored_rng.get("cuda")
            if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
        if self.trainer.world_size > 1:
            base = int(torch.randint(0, 2**31 - 1, (1,)).item())  # the same on every rank here
            torch.manual_seed(base + 1_000_003 * self.trainer.global_rank)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        if self.g_iter >= self.iterations:  # e.g. resumed from a run that had finished its budget
            self.trainer.should_stop = True
            return -1
        return None

    def on_train_end(self) -> None:
        self.check_divergence()  # the last iteration's verdict, if no checkpoint read it

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_divergence()  # a diverged state is never saved: this raises before anything is written
        # The counters, and the RNG states so that a resumed run draws the noise it would have drawn.
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint[STATE_KEY] = {"g_iter": self.g_iter, "d_iter": self.d_iter, "rng": rng}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("ganlab")
        if state is None:
            raise ValueError("this checkpoint was not written by ganlab (no 'ganlab' entry)")
        self.g_iter = int(state["g_iter"])
        self.d_iter = int(state["d_iter"])
        self._restored_rng = state.get("rng")  # applied in on_fit_start
