"""Run outputs other than checkpoints: metrics.jsonl, TensorBoard scalars, sample grids, progress."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from tqdm.auto import tqdm

from reflect.utils.atomic import atomic_path, atomic_write_text

log = logging.getLogger(__name__)


class RunLogger:
    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.metrics_path = run_dir / "metrics.jsonl"
        self.writer = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run_dir / "tb"))
            except ImportError:  # tensorboard is a declared dependency; tolerate a trimmed install
                log.warning("tensorboard is not installed; scalars go to metrics.jsonl only")

    def progress(self, total: int, initial: int, enabled: bool) -> tqdm:
        return tqdm(
            total=total,
            initial=initial,
            disable=not (enabled and self.enabled),
            desc=self.run_dir.name,
            unit="it",
            dynamic_ncols=True,
            mininterval=1.0,
        )

    def scalars(self, record: dict[str, float]) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            step = int(record["step"])
            for k, v in record.items():
                if k != "step":
                    self.writer.add_scalar(
                        k if k in ("lr", "it_per_s", "data_wait_s") else f"loss/{k}", v, step
                    )

    def truncate_after(self, step: int) -> None:
        """On resume, forget records written after the checkpoint (they will be written again)."""
        if not (self.enabled and self.metrics_path.is_file()):
            return
        keep = []
        for ln in self.metrics_path.read_text().splitlines():
            try:
                record = json.loads(ln)
            except json.JSONDecodeError:  # blank, or the last line cut short by a kill mid-write
                continue
            if isinstance(record, dict) and record.get("step", step + 1) <= step:
                keep.append(ln)
        atomic_write_text(self.metrics_path, "".join(ln + "\n" for ln in keep))

    def sample_grid(self, step: int, images: dict[str, torch.Tensor]) -> Path:
        from torchvision.utils import make_grid, save_image

        rows = [t.detach().float().cpu()[:4] for t in images.values()]
        n = min(t.shape[0] for t in rows)
        # one column per image kind (real_A, fake_B, ...), one row per sample
        tiles = torch.stack([t[:n] for t in rows], 1).flatten(0, 1)
        grid = make_grid(tiles, nrow=len(rows), normalize=True, value_range=(-1, 1), padding=2)
        path = self.run_dir / "samples" / f"step_{step:09d}.png"
        with atomic_path(path) as tmp:
            save_image(grid, tmp, format="png")
        if self.writer is not None:
            self.writer.add_image("samples", grid, step)
        return path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
