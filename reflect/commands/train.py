"""reflect train CONFIG [key=value ...] [--resume RUN_DIR]"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

HELP = "train any variant; writes runs/<name>/ (config, checkpoints, samples, metrics)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        nargs="?",
        help="experiment YAML (e.g. configs/cyclegan.yaml); required, except with --resume (the run's "
        "saved config is used)",
    )
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.ngf=32 train.steps=1000")
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its newest checkpoint"
    )


def run(args: argparse.Namespace) -> int:
    from reflect.checkpoint import list_checkpoints
    from reflect.config import load_config
    from reflect.errors import ConfigError
    from reflect.train import resume_config, train
    from reflect.utils.atomic import remove_stale_temporaries

    overrides = list(args.overrides)
    fresh = False  # a --resume of a run that has no checkpoint yet starts it over
    if args.resume:
        # With --resume, CONFIG is optional: anything positional with '=' is an override.
        if args.config and "=" in args.config:
            overrides.insert(0, args.config)
        elif args.config:
            raise ConfigError("with --resume the run's saved config is used; pass only key=value overrides")
        cfg = resume_config(args.resume, overrides)
        removed = remove_stale_temporaries(cfg.run_dir)  # partial checkpoints of a killed run
        if removed:
            log.info("removed %d partial file(s) left by an interrupted run in %s", removed, cfg.run_dir)
        if not list_checkpoints(cfg.run_dir):  # killed before its first checkpoint: nothing to continue from
            log.warning(
                "%s holds no checkpoint yet (the run stopped before its first one): starting it over "
                "from step 0",
                cfg.run_dir,
            )
            (cfg.run_dir / "metrics.jsonl").unlink(missing_ok=True)
            fresh = True
    else:
        if not args.config:
            raise ConfigError("give an experiment config file (e.g. configs/cyclegan.yaml)")
        cfg = load_config(args.config, overrides)
        _refuse_existing_run(cfg.run_dir)
    trainer = train(cfg, resume=bool(args.resume) and not fresh)
    print(f"trained {cfg.name} to step {trainer.step}; run folder: {cfg.run_dir}")
    return 0


def _refuse_existing_run(run_dir: Path) -> None:
    """A new run never writes into an existing one (its config, checkpoints and metrics stay as they are)."""
    from reflect.errors import ConfigError
    from reflect.utils.paths import writable_folder

    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(
            f"run folder {run_dir} already exists; continue it with --resume {run_dir}, or give "
            "the new run another name (name=...) or out_dir=..."
        )
    writable_folder(run_dir.parent, "out_dir")
