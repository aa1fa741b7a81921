"""Datasets, image I/O and augmentation pipelines."""

from reflect.data.io import IMAGE_EXTENSIONS, list_images, read_image, to_image, to_tensor, write_image

__all__ = ["IMAGE_EXTENSIONS", "list_images", "read_image", "to_image", "to_tensor", "write_image"]
