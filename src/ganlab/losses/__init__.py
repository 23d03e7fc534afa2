"""Adversarial losses, one per file. A loss reads DOut fields and returns scalars; it is chosen in
conf/loss/<name>.yaml by `_target_`, never by name in code."""
from ganlab.losses.auxiliary_classifier import AuxiliaryClassifierLoss
from ganlab.losses.base import AdversarialLoss
from ganlab.losses.boundary_equilibrium import BoundaryEquilibriumLoss
from ganlab.losses.energy import EnergyLoss, pull_away_term
from ganlab.losses.hinge import HingeLoss
from ganlab.losses.least_squares import LeastSquaresLoss
from ganlab.losses.non_saturating import NonSaturatingLoss
from ganlab.losses.relativistic_average import RelativisticAverageLoss
from ganlab.losses.relativistic_pairing import RelativisticPairingLoss
from ganlab.losses.wasserstein import WassersteinLoss

__all__ = [
    "AdversarialLoss",
    "AuxiliaryClassifierLoss",
    "BoundaryEquilibriumLoss",
    "EnergyLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "NonSaturatingLoss",
    "RelativisticAverageLoss",
    "RelativisticPairingLoss",
    "WassersteinLoss",
    "pull_away_term",
]
