"""Quality metrics: PSNR/SSIM against clean targets, face-identity similarity."""

from reflect.metrics.image import psnr, ssim

__all__ = ["psnr", "ssim"]
