"""INT8 calibration for TensorRT: real window crops in, an entropy calibrator with a cache out.

Post-training INT8 quantisation needs the activation ranges of representative inputs. TensorRT's
entropy calibrator (``IInt8EntropyCalibrator2``, KL-divergence thresholds, Migacz, GTC 2017)
pulls batches through :meth:`get_batch` as device pointers; here they are torch tensors, so no
pycuda is needed. The resulting scales are written to a calibration cache file and read back on
the next build, which then skips calibration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from deploy.export import INPUT, TARGET_INDEX
from reflect.data.io import list_images, read_image
from reflect.errors import ConfigError
from reflect.utils.atomic import atomic_write_bytes
from reflect.utils.images import to_tensor

log = logging.getLogger(__name__)


def fit_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize so the image covers ``height`` x ``width``, then take the centre crop."""
    h0, w0 = image.shape[:2]
    scale = max(height / h0, width / w0)
    if abs(scale - 1.0) > 1e-6:
        size = (max(width, round(w0 * scale)), max(height, round(h0 * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return np.ascontiguousarray(image[top : top + height, left : left + width])


class CalibrationImages:
    """Batches (N, 3, H, W) float32 in [-1, 1] from a folder of crops (recursively), in file order.

    The last incomplete batch is dropped (TensorRT wants a fixed calibration shape). An unreadable
    file is an :class:`~reflect.errors.ImageReadError` naming it.
    """

    def __init__(
        self, folder: str | Path, *, batch_size: int, height: int, width: int, max_batches: int = 0
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"calibration folder {self.folder} does not exist")
        self.files = list_images(self.folder, recursive=True)
        if len(self.files) < batch_size:
            raise ConfigError(
                f"calibration folder {self.folder} holds {len(self.files)} images; "
                f"need at least one batch of {batch_size} (a few hundred real crops is typical)"
            )
        self.batch_size, self.height, self.width = batch_size, height, width
        n = len(self.files) // batch_size
        self.num_batches = min(n, max_batches) if max_batches > 0 else n

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[torch.Tensor]:
        for b in range(self.num_batches):
            files = self.files[b * self.batch_size : (b + 1) * self.batch_size]
            crops = np.stack([fit_crop(read_image(f), self.height, self.width) for f in files])
            yield to_tensor(crops).contiguous()


def make_entropy_calibrator(
    trt: Any,
    images: CalibrationImages | None,
    cache_file: str | Path,
    *,
    batch_size: int = 1,
    device: str | torch.device = "cuda",
    input_dtypes: dict[str, torch.dtype] | None = None,
    n_domains: int = 2,
) -> Any:
    """An ``trt.IInt8EntropyCalibrator2`` fed from ``images`` with torch device buffers.

    ``images`` may be None when ``cache_file`` already holds the scales (TensorRT then reads the
    cache and never asks for a batch). ``input_dtypes`` names the network inputs; a multi-domain ``target_index`` input is fed the
    domains in turn so every target's activations are seen.
    """
    dtypes = dict(input_dtypes or {INPUT: torch.float32})
    cache = Path(cache_file)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = iter(images if images is not None else [])
            self._seen = 0
            self._buffers: dict[str, torch.Tensor] = {}  # alive until the next batch

        def get_batch_size(self) -> int:
            return images.batch_size if images is not None else batch_size

        def get_batch(self, names: list[str], *_: Any) -> list[int] | None:
            try:
                batch = next(self._batches)
            except StopIteration:
                log.info("calibration: %d batches done", self._seen)
                return None
            n = batch.shape[0]
            bufs = {INPUT: batch.to(device, dtypes.get(INPUT, torch.float32)).contiguous()}
            if TARGET_INDEX in names:
                idx = (torch.arange(n) + self._seen * n) % n_domains
                bufs[TARGET_INDEX] = idx.to(device, dtypes.get(TARGET_INDEX, torch.int64))
            unknown = [name for name in names if name not in bufs]
            if unknown:
                raise ConfigError(f"calibration cannot feed network inputs {unknown}")
            self._buffers = bufs
            self._seen += 1
            return [int(bufs[name].data_ptr()) for name in names]

        def read_calibration_cache(self, *_: Any) -> bytes | None:
            if cache.is_file() and cache.stat().st_size > 0:
                log.info("calibration: reusing cache %s", cache)
                return cache.read_bytes()
            return None

        def write_calibration_cache(self, data: Any, *_: Any) -> None:
            atomic_write_bytes(cache, bytes(data))
            log.info("calibration: wrote cache %s", cache)

    return EntropyCalibrator()
