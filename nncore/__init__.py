"""nncore: a from-scratch NumPy engine for small fully connected networks."""
from .activations import ACTIVATIONS
from .config import RunConfig, parse_hidden
from .datasets import DATASETS, Dataset, load_dataset
from .initializers import INITIALIZERS
from .losses import LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .trainer import Diverged, EpochRecord, History, Trainer

__all__ = ["ACTIVATIONS", "DATASETS", "INITIALIZERS", "LOSSES", "OPTIMIZERS", "Dataset",
           "Diverged", "EpochRecord", "History", "Network", "RunConfig", "Trainer",
           "load_dataset", "parse_hidden"]
__version__ = "0.1.0"
