"""The names under which ganlab reports values: scalars in the loggers, the progress bar, the
final metrics run() returns and the hparams columns. Defined here once; everything else builds
names with these functions.

A step term (`ganlab.step`) is named `loss/<what>`: `loss/d`, `loss/g` (the adversarial
objective), `loss/d_class`, `loss/g_class` (AC-GAN's class loss), `loss/d_<regulariser>` (a
regulariser's weighted term, e.g. `loss/d_gradient_penalty`). The progress bar and
`trainer.callback_metrics` show a term as `loss_<what>` (Lightning's progress bar and the hparams
columns read better without the slash); run() reports it as `final/loss_<what>`.
"""
from __future__ import annotations

LOSS = "loss/"
D_LOSS = "loss/d"  # the discriminator's adversarial loss
G_LOSS = "loss/g"  # the generator's adversarial loss
D_CLASS = "loss/d_class"  # AC-GAN's class loss, discriminator side
G_CLASS = "loss/g_class"  # AC-GAN's class loss, generator side
D_INFO = "loss/d_info"  # InfoGAN's mutual-information term, discriminator (and Q) side
G_INFO = "loss/g_info"  # InfoGAN's mutual-information term, generator side
INFOGAN_CATEGORICAL = "infogan/categorical"  # reported: the categorical codes' cross-entropy (unweighted)
INFOGAN_CONTINUOUS = "infogan/continuous"  # reported: the continuous codes' Gaussian NLL (unweighted)
D_REAL = "d/real"  # mean score of D on the real batch of the iteration's last D step
D_FAKE = "d/fake"  # mean score of D on the fake batch of that step
LR_G = "lr/g"
LR_D = "lr/d"
REAL_AS_REAL = "d/real_as_real"  # share of the real batch D judges real (the loss's own decision)
FAKE_AS_FAKE = "d/fake_as_fake"  # share of the fake batch D judges fake
GRAD_NORM_G = "grad_norm/g"  # 2-norm of G's gradients in its step (logging iterations only)
GRAD_NORM_D = "grad_norm/d"  # 2-norm of D's gradients in the iteration's last D step
BEGAN_K = "began/k"  # BEGAN's equilibrium controller k_t, after the D step
BEGAN_M_GLOBAL = "began/m_global"  # BEGAN's convergence measure
METRIC = "metrics/"  # metrics/fid, metrics/kid, ...
BEST = "best/"  # best/fid: the best monitored value so far
FINAL = "final/"  # final/loss_d, final/fid, final/best_fid: run()'s results and the hparams columns


def regularizer_term(name: str) -> str:
    """The term of the regulariser called `name` in `loss.regularizers`: loss/d_<name>."""
    return f"{D_LOSS}_{name}"


def is_gradient_norm(name: str) -> bool:
    """Gradient norms are reported, not checked for divergence: a float16 run's loss scaler skips the
    step when a gradient overflows, which is not a divergence."""
    return name in (GRAD_NORM_G, GRAD_NORM_D)


def progress_name(term: str) -> str:
    """loss/d -> loss_d: a term's name in the progress bar and trainer.callback_metrics."""
    return term.replace("/", "_", 1)


def is_progress_loss(name: str) -> bool:
    """Whether a callback-metrics name is a step term's (loss_d, loss_g_class, ...)."""
    return name.startswith(progress_name(LOSS))


def final(name: str) -> str:
    """A final result's name: loss_d -> final/loss_d, fid -> final/fid."""
    return FINAL + name


def metric(name: str) -> str:
    return METRIC + name


def best(name: str) -> str:
    return BEST + name


FINAL_LOSSES = [final(progress_name(D_LOSS)), final(progress_name(G_LOSS))]  # the hparams columns every run has
