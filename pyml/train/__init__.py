"""Fine-tuning on your own data: dataset reading, checking and conversion, the training
loop, evaluation (mAP) and export to a PaddleX model directory."""

from .dataset import Dataset, DatasetError, read_dataset
from .networks import architectures

__all__ = ["Dataset", "DatasetError", "architectures", "read_dataset"]
