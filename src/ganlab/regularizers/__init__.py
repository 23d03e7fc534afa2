"""Discriminator regularisers (penalty terms added to D's loss) and constraints (actions on D after
each of its steps), parts of the step (ganlab.step). Chosen in conf/loss/<name>.yaml or added to any
loss with regularizer=<name>."""
from ganlab.regularizers.base import Regularizer, score_input_gradient
from ganlab.regularizers.gradient_penalty import GradientPenalty
from ganlab.regularizers.r1 import R1Penalty
from ganlab.regularizers.r2 import R2Penalty
from ganlab.regularizers.weight_clip import WeightClip

__all__ = ["GradientPenalty", "R1Penalty", "R2Penalty", "Regularizer", "WeightClip", "score_input_gradient"]
