"""Learning-rate schedules counted in generator iterations (`scheduler=...`, one per player): a
schedule maps the generator iteration t to a factor of the optimiser's initial learning rate."""
from ganlab.schedules.base import LRSchedule, set_learning_rate
from ganlab.schedules.constant import Constant
from ganlab.schedules.cosine import Cosine
from ganlab.schedules.linear_decay import LinearDecay

__all__ = ["Constant", "Cosine", "LRSchedule", "LinearDecay", "set_learning_rate"]
