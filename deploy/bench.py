"""Latency and throughput of a :class:`~deploy.translator.Translator`: warm-up, then timed runs.

Each timed run is one ``run(batch)`` call on a fixed random batch; on a GPU the clock stops after
``torch.cuda.synchronize`` so asynchronous backends are measured to completion. Reported: median
and p99 latency per batch, and throughput (frames per second at the median latency).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from deploy.translator import Translator
from reflect.errors import ConfigError


@dataclass
class BenchResult:
    backend: str
    batch: int
    height: int
    width: int
    warmup: int
    iters: int
    median_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    fps: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_size(text: str) -> tuple[int, int]:
    """``"256x256"`` or ``"256"`` -> (height, width)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        h, w = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise ConfigError(f"size '{text}' is not HxW (e.g. 256x256)") from None
    if len(parts) > 2 or h < 1 or w < 1:
        raise ConfigError(f"size '{text}' is not HxW with positive integers (e.g. 256x256)")
    return h, w


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark(
    translator: Translator,
    *,
    height: int = 256,
    width: int = 256,
    batch: int = 1,
    warmup: int = 3,
    iters: int = 20,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> BenchResult:
    """Time ``translator.run`` on a (batch, 3, height, width) input that lives on ``device``."""
    if warmup < 0 or iters < 1 or batch < 1:
        raise ConfigError(f"need warmup >= 0, iters >= 1, batch >= 1 (got {warmup}, {iters}, {batch})")
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, 3, height, width, generator=gen) * 2 - 1).to(dev)
    for _ in range(warmup):
        translator.run(x)
    _sync(dev)
    times: list[float] = []
    for _ in range(iters):
        t0 = time.perf_counter()
        translator.run(x)
        _sync(dev)
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    return BenchResult(
        backend=translator.backend,
        batch=batch,
        height=height,
        width=width,
        warmup=warmup,
        iters=iters,
        median_ms=med,
        p99_ms=float(np.percentile(times, 99)),
        mean_ms=statistics.fmean(times),
        min_ms=min(times),
        fps=batch * 1e3 / med,
        extra=translator.describe(),
    )


def format_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table; ``columns`` are (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append(
            [
                format(r[k], f) if isinstance(r.get(k), (int, float)) else str(r.get(k, ""))
                for k, _, f in columns
            ]
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


RESULT_COLUMNS = [
    ("backend", "backend", ""),
    ("batch", "batch", "d"),
    ("size", "size", ""),
    ("median_ms", "median ms", ".2f"),
    ("p99_ms", "p99 ms", ".2f"),
    ("fps", "frames/s", ".2f"),
]


def result_rows(results: list[BenchResult]) -> list[dict[str, Any]]:
    return [{**r.to_dict(), "size": f"{r.height}x{r.width}"} for r in results]
