"""The one trainer (see trainer.py)."""

from reflect.train.state import resume_config
from reflect.train.trainer import Trainer, train

__all__ = ["Trainer", "resume_config", "train"]
