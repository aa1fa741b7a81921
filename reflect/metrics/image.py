"""Full-reference image metrics on (H, W, 3) uint8 RGB arrays (scikit-image's implementations)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (data range 255); ``inf`` for identical images."""
    if x.shape != ref.shape:
        raise ValueError(f"PSNR needs equal shapes, got {x.shape} and {ref.shape}")
    if np.array_equal(x, ref):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, x, data_range=255))


def ssim(x: np.ndarray, ref: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004), Gaussian-weighted, averaged over RGB channels."""
    if x.shape != ref.shape:
        raise ValueError(f"SSIM needs equal shapes, got {x.shape} and {ref.shape}")
    return float(
        structural_similarity(
            ref,
            x,
            channel_axis=2,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
