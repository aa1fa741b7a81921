"""reflect adapt --site DIR [--clean DIR] [--from MODEL] [--method none|cyclegan|unit] [--minutes N | --steps N] [--full] --out RUN"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reflect.adapt.trainer import AdaptTrainer

HELP = (
    "fine-tune the remover on a site's own unlabeled window crops (low-rank adapters by default); writes "
    "RUN/adapted.safetensors, a generator file every job opens, and RUN/report.html"
)
log = logging.getLogger("reflect")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--site",
        metavar="DIR",
        help="folder of the site's window crops through the glass: images, and/or videos (every --every-th "
        "frame, cropped to the windows of --roi FILE or around faces, as `reflect dataset build` crops them)",
    )
    p.add_argument(
        "--roi",
        metavar="FILE",
        default=None,
        help="videos in --site: per-camera window ROIs (the YAML of `reflect dataset build --roi`); "
        "without it, squares around detected faces",
    )
    p.add_argument(
        "--every", type=int, default=10, help="videos in --site: take every Nth frame (default 10)"
    )
    p.add_argument(
        "--clean",
        metavar="DIR",
        default="",
        help="folder of clean images of the same domain (clean crops, "
        "face photos) for the adversarial term (default: the base recipe's synthetic clean renders)",
    )
    p.add_argument(
        "--match-colour",
        action="store_true",
        help="--clean holds crops of this camera without reflection: match their per-channel colour "
        "mean and spread (learns the site glass's light loss and tint, which no single crop reveals)",
    )
    p.add_argument(
        "--clean-pairs",
        type=float,
        default=0.0,
        metavar="F",
        help="--clean holds crops of this camera without reflection: a share F (0-1) of the samples are "
        "those crops behind a new reflection, with the crop as the target (default 0: off)",
    )
    p.add_argument(
        "--pair-glass",
        choices=("resynthesis", "site", "site-mean", "site-floor"),
        default="resynthesis",
        help="with --clean-pairs: the glass the clean crops are put behind: the re-synthesis glass models, "
        "the site's own glass as the model reads it on each site crop (site), or the re-synthesis glass "
        "then the site's mean glass, a contrast and a smooth added light fitted to the site crops' "
        "statistics (site-mean), or the same contrast and, per pair, one site crop's veiling light, the floor "
        "its pixels do not go below (site-floor) (default resynthesis)",
    )
    p.add_argument(
        "--from",
        dest="base",
        metavar="MODEL",
        default=None,
        help="the remover to adapt: a generator file, checkpoint or run folder (default: the bundled model)",
    )
    p.add_argument(
        "--method",
        choices=("none", "cyclegan", "unit"),
        default="none",
        help="the adversarial family member: none, a CycleGAN cycle, or a UNIT shared latent (default none)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--minutes", type=float, help="training budget in minutes (a step count from a short timing)"
    )
    budget.add_argument("--steps", type=int, help="training steps (default 1000)")
    p.add_argument("--full", action="store_true", help="fine-tune every weight instead of low-rank adapters")
    p.add_argument(
        "--out", metavar="RUN", help="run folder (created; an existing adaptation run is continued)"
    )
    p.add_argument(
        "--resume", metavar="RUN", help="continue the adaptation run in RUN from its newest checkpoint"
    )
    p.add_argument("--size", type=int, default=160, help="training crop size in pixels (default 160)")
    p.add_argument("--batch-size", type=int, default=4, help="crops per step (default 4)")
    p.add_argument("--workers", type=int, default=2, help="data-loading processes (default 2)")
    p.add_argument(
        "--anchor", type=float, default=0.25, help="share of anchor pairs from the base recipe (default 0.25)"
    )
    p.add_argument(
        "--max-crops", type=int, default=0, help="use the first N site crops (sorted; default all)"
    )
    p.add_argument(
        "--report-crops",
        type=int,
        default=24,
        help="site crops measured in the report (default 24; 0: no report)",
    )
    p.add_argument(
        "--clear-below",
        type=float,
        default=0.02,
        help="a site face is clear (the identity loss keeps it) "
        "when the base model's mean reflection in its box is below this, [0, 1] units (default 0.02)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. model.lambda_identity=2")


def run(args: argparse.Namespace) -> int:
    from reflect.adapt.trainer import ADAPTED, AdaptTrainer
    from reflect.checkpoint import list_checkpoints
    from reflect.errors import ConfigError
    from reflect.train import resume_config
    from reflect.utils.atomic import atomic_write_text, remove_stale_temporaries

    run_dir = Path(args.resume or args.out or "")
    if not (args.resume or args.out):
        raise ConfigError("give --out RUN (a new run folder) or --resume RUN")
    existing = (run_dir / "config.yaml").is_file()
    if args.resume and not existing:
        raise ConfigError(f"cannot resume: {run_dir} is not an adaptation run (no config.yaml)")
    if existing:
        cfg = resume_config(run_dir, list(args.overrides))
        if type(cfg.model).variant_name != "adapt":
            raise ConfigError(f"{run_dir} is a '{type(cfg.model).variant_name}' run, not an adaptation run")
        removed = remove_stale_temporaries(run_dir)
        if removed:
            log.info("removed %d partial file(s) left by an interrupted run in %s", removed, run_dir)
        started = bool(list_checkpoints(run_dir))
        log.info("continuing the adaptation run %s (its saved config is used)", run_dir)
        trainer = AdaptTrainer(cfg, resume=started)
        if not started:  # killed before its first checkpoint: start over from the base
            (run_dir / "metrics.jsonl").unlink(missing_ok=True)
            _load_base(trainer, cfg.model.base)
    else:
        trainer = _start(args, run_dir)
    with trainer:
        minutes = _pending_budget(run_dir, None if existing else args.minutes)
        if minutes:  # a new --minutes run, or one killed before its timing had set the step count
            trainer.fit_minutes(minutes)
            atomic_write_text(
                _budget_file(run_dir), json.dumps({"minutes": minutes, "steps": trainer.cfg.train.steps})
            )
        trainer.fit()
    adapted, adapter = trainer.write_outputs()
    print(f"adapted {trainer.step} steps: {adapted} ({adapted.stat().st_size / 1e6:.1f} MB)")
    if adapter is not None:
        print(f"adapters alone: {adapter} ({adapter.stat().st_size / 1e3:.0f} kB)")
    if args.report_crops > 0:
        from pipelines.report.site import write_site_report

        page = write_site_report(
            run_dir, base=trainer.cfg.model.base, adapted=run_dir / ADAPTED, crops=args.report_crops
        )
        print(f"report: {page.resolve()}")
    return 0


def _budget_file(run_dir: Path) -> Path:
    return run_dir / "budget.json"


def _pending_budget(run_dir: Path, minutes: float | None) -> float | None:
    """The ``--minutes`` budget still to turn into a step count: a new run's (recorded first, so that a
    run killed during the timing is timed again when continued), or a continued run's unconverted one."""
    from reflect.utils.atomic import atomic_write_text

    path = _budget_file(run_dir)
    if minutes:
        atomic_write_text(path, json.dumps({"minutes": minutes}))
        return minutes
    if path.is_file():
        budget = json.loads(path.read_text())
        return None if "steps" in budget else float(budget["minutes"])
    return None


def _load_base(trainer: AdaptTrainer, base: str) -> None:
    from reflect.loader import load_variant

    trainer.load_base(load_variant(base, option="--from")[0])


def _start(args: argparse.Namespace, run_dir: Path) -> AdaptTrainer:
    """A new run: check the inputs, open the base model, index the site, build the trainer."""
    from reflect.adapt.index import build_index, save_index
    from reflect.adapt.setup import adapt_config
    from reflect.adapt.trainer import AdaptTrainer, save_base_config
    from reflect.data.site import site_images
    from reflect.errors import ConfigError
    from reflect.loader import identify, load_variant
    from reflect.utils.paths import writable_folder

    if not args.site:
        raise ConfigError("give --site DIR, the folder of the site's window crops")
    videos = _site_videos(args.site)
    if args.roi and not videos:
        raise ConfigError(f"--roi is for videos, and --site {args.site} holds none")
    files = site_images(args.site, videos=len(videos))
    if args.clean:
        site_images(args.clean, "--clean")
    elif args.match_colour or args.clean_pairs:
        flag = "--match-colour" if args.match_colour else "--clean-pairs"
        raise ConfigError(f"{flag} needs --clean DIR, crops of this camera without reflection")
    if not 0.0 <= args.clean_pairs < 1.0:
        raise ConfigError(f"--clean-pairs {args.clean_pairs} must be a share in [0, 1)")
    if args.pair_glass != "resynthesis" and not args.clean_pairs:
        raise ConfigError(f"--pair-glass {args.pair_glass} is the glass of --clean-pairs F: give both")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(f"--out {run_dir} exists and is not an adaptation run; give a new folder")
    ref = identify(args.base, "--from")
    base, base_cfg = load_variant(ref, option="--from")
    if base.name != "remover":
        raise ConfigError(f"--from {ref.path} holds a '{base.name}' model; reflect adapt adapts a remover")
    if not args.size % 16 == 0 or args.size < 32:
        raise ConfigError(f"--size {args.size} must be a multiple of 16, at least 32")
    cfg = adapt_config(
        base_cfg,
        str(ref.path),
        run_dir,
        site=args.site,
        clean=args.clean,
        method=args.method,
        full=args.full,
        steps=args.steps or 1000,
        size=args.size,
        batch_size=args.batch_size,
        num_workers=args.workers,
        anchor_fraction=args.anchor,
        match_colour=args.match_colour,
        clean_pairs=args.clean_pairs,
        pair_glass=args.pair_glass,
        seed=args.seed,
        overrides=args.overrides,
    )
    writable_folder(run_dir, "--out")
    try:
        if videos:
            files = files + _crops_from_videos(videos, args, run_dir)
        if args.max_crops > 0:
            files = files[: args.max_crops]
        save_index(build_index(files, args.size, base, clear_reflection=args.clear_below), run_dir)
        save_base_config(base_cfg, run_dir)
        trainer = AdaptTrainer(cfg)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing half-made is left to "continue"
        raise
    trainer.load_base(base)
    return trainer


SITE_FRAMES = "site_frames"


def _site_videos(site: str) -> list[Path]:
    from data_tools.footage.frames import is_video, list_footage

    root = Path(site).expanduser()
    return [p for p in list_footage(root) if is_video(p)] if root.is_dir() else []


def _crops_from_videos(videos: list[Path], args: argparse.Namespace, run_dir: Path) -> list[Path]:
    """The window crops of the site's videos, written once into ``RUN/site_frames`` (a new run only: the
    site index, made next, names them, and a continued run reads the index)."""
    from data_tools.footage.builder import video_crops
    from reflect.errors import ConfigError

    made = video_crops(
        videos,
        Path(args.site).expanduser(),
        run_dir / SITE_FRAMES,
        roi=args.roi,
        every=args.every,
        size=args.size,
    )
    how = "the windows of --roi" if args.roi else "a face (give --roi FILE with the windows' regions)"
    if not made:
        raise ConfigError(
            f"--site {args.site}: no window crop in its {len(videos)} video(s): no frame showed {how}"
        )
    log.info("site videos: %d crops from %d video(s) in %s", len(made), len(videos), run_dir / SITE_FRAMES)
    return made
