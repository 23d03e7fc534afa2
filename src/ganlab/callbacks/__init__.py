"""Lightning callbacks that count in generator iterations."""
from ganlab.callbacks.best_checkpoint import BestCheckpoint
from ganlab.callbacks.code_accuracy import CodeClassAccuracy
from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.callbacks.lr_halving import HalveLearningRateOnStall
from ganlab.callbacks.metrics import ImageMetrics
from ganlab.callbacks.progress_bar import IterationProgressBar
from ganlab.callbacks.sample_grid import SampleGrid

__all__ = ["BestCheckpoint", "CodeClassAccuracy", "GracefulStop", "HalveLearningRateOnStall", "ImageMetrics",
           "IterationCheckpoint", "IterationProgressBar", "SampleGrid"]
