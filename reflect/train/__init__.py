"""The one trainer (see trainer.py)."""

from reflect.train.trainer import Trainer, resume_config, train

__all__ = ["Trainer", "resume_config", "train"]
