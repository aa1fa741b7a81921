"""reflect train CONFIG [key=value ...] [--resume RUN_DIR]"""

from __future__ import annotations

import argparse

HELP = "train any variant; writes runs/<name>/ (config, checkpoints, samples, metrics)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="experiment YAML (e.g. configs/cyclegan.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.ngf=32 train.steps=1000")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its newest checkpoint")


def run(args: argparse.Namespace) -> int:
    from reflect.config import load_config
    from reflect.errors import ConfigError
    from reflect.train import resume_config, train

    overrides = list(args.overrides)
    if args.resume:
        # With --resume, CONFIG is optional: anything positional with '=' is an override.
        if args.config and "=" in args.config:
            overrides.insert(0, args.config)
        elif args.config:
            raise ConfigError("with --resume the run's saved config is used; pass only key=value overrides")
        cfg = resume_config(args.resume, overrides)
    else:
        if not args.config:
            raise ConfigError("give an experiment config file (e.g. configs/cyclegan.yaml)")
        cfg = load_config(args.config, overrides)
    trainer = train(cfg, resume=bool(args.resume))
    print(f"trained {cfg.name} to step {trainer.step}; run folder: {cfg.run_dir}")
    return 0
