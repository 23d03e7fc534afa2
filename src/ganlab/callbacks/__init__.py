"""Lightning callbacks that count in generator iterations."""
from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.callbacks.progress_bar import IterationProgressBar
from ganlab.callbacks.sample_grid import SampleGrid

__all__ = ["GracefulStop", "IterationCheckpoint", "IterationProgressBar", "SampleGrid"]
