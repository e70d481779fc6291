"""Image preprocessing in numpy/Pillow that reproduces a checkpoint's ``preprocessor_config.json``.

``ImagePreprocessing.from_hf(config)`` reads the fields of transformers' ``CLIPImageProcessor``
and ``SiglipImageProcessor`` (resize of the shortest side or to an exact size, with the configured
resampling; center crop; rescale; normalize); ``ImagePreprocessing(...)(images)`` turns decoded
RGB images into ``(n, 3, height, width) float32`` pixel values, equal to the slow transformers
processors' output (tests: max abs difference <= 1e-5). The operations and their dtypes follow
``transformers.image_transforms`` step by step: uint8 resize in Pillow, crop (zero padding when
the image is smaller than the crop), ``float64`` rescale cast to ``float32``, ``float32`` normalize.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil
from typing import Any, Literal

import numpy as np
from embedspec.errors import EmbedspecError
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Pillow resampling filters by their transformers/Pillow integer codes.
RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
#: Image processors whose (slow, Pillow-based) pipeline this module reproduces.
KNOWN_PROCESSORS = (
    "CLIPImageProcessor", "CLIPFeatureExtractor", "CLIPImageProcessorFast",
    "SiglipImageProcessor", "SiglipImageProcessorFast",
)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class PreprocessingError(EmbedspecError, ValueError):
    """A ``preprocessor_config.json`` asks for something this module does not reproduce."""


class ImagePreprocessing(BaseModel):
    """How decoded RGB images become pixel values; stored under ``image`` in ``embedspec.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Optional steps default to None (= skipped), so the JSON written without nulls reads back equal.
    resize: Literal["shortest_edge", "exact", "none"] = "exact"
    #: ``shortest_edge``: length of the short side after resizing; ``exact``: (height, width).
    size: tuple[int, ...] = (224, 224)
    resample: int = Field(3, ge=0, le=5, description="Pillow filter code: 3 bicubic, 2 bilinear...")
    crop: tuple[int, int] | None = None
    rescale_factor: float | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    processor: str = "CLIPImageProcessor"

    @model_validator(mode="after")
    def _check(self) -> ImagePreprocessing:
        want = {"shortest_edge": 1, "exact": 2, "none": 0}[self.resize]
        if len(self.size) != want or any(s <= 0 for s in self.size):
            raise ValueError(f"resize {self.resize!r} needs {want} positive size value(s), got {self.size}")
        if self.crop is not None and min(self.crop) <= 0:
            raise ValueError(f"crop must be positive (height, width), got {self.crop}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std must be given together")
        if self.std is not None and min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        if self.crop is None and self.resize != "exact":
            raise ValueError(
                "the output size must not depend on the image (crop, or resize to an exact size): "
                "the vision tower's position embeddings take one size"
            )
        return self

    # ---- from a Hugging Face processor configuration ---------------------------------------
    @classmethod
    def from_hf(cls, config: Mapping[str, Any]) -> ImagePreprocessing:
        """Read a ``preprocessor_config.json`` dict (CLIP or SigLIP image processor)."""
        kind = str(config.get("image_processor_type") or config.get("feature_extractor_type") or "")
        if kind and kind not in KNOWN_PROCESSORS:
            raise PreprocessingError(
                f"image processor {kind!r} is not reproduced here (known: {', '.join(KNOWN_PROCESSORS)})"
            )
        siglip = kind.startswith("Siglip")
        size = config.get("size", {"height": 224, "width": 224} if siglip else {"shortest_edge": 224})
        resize: str = "none"
        sizes: tuple[int, ...] = ()
        if config.get("do_resize", True):
            resize, sizes = _parse_size(size, default_to_square=siglip)
        crop = None
        if not siglip and config.get("do_center_crop", True):
            crop_cfg = config.get("crop_size", {"height": 224, "width": 224})
            crop_hw = _parse_size(crop_cfg, default_to_square=True)[1]
            crop = (crop_hw[0], crop_hw[1])
        mean = std = None
        if config.get("do_normalize", True):
            default_mean = (0.5, 0.5, 0.5) if siglip else OPENAI_CLIP_MEAN
            default_std = (0.5, 0.5, 0.5) if siglip else OPENAI_CLIP_STD
            mean = _triple(config.get("image_mean", default_mean), "image_mean")
            std = _triple(config.get("image_std", default_std), "image_std")
        rescale = float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else None
        try:
            return cls(
                resize=resize,  # type: ignore[arg-type]
                size=sizes,
                resample=int(config.get("resample", 3)),
                crop=crop,
                rescale_factor=rescale,
                mean=mean,
                std=std,
                processor=kind or "CLIPImageProcessor",
            )
        except ValueError as exc:
            raise PreprocessingError(f"image processor configuration not reproducible: {exc}") from None

    # ---- applying it -----------------------------------------------------------------------
    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of every output."""
        return self.crop if self.crop is not None else (self.size[0], self.size[1])

    def __call__(self, images: Sequence[Any]) -> np.ndarray:
        """``(n, 3, H, W) float32`` pixel values of decoded RGB Pillow images."""
        if not images:
            return np.zeros((0, 3, *self.output_size), dtype=np.float32)
        return np.stack([self.one(image) for image in images])

    def one(self, image: Any) -> np.ndarray:
        """``(3, H, W) float32`` pixel values of one decoded RGB Pillow image."""
        if image.mode != "RGB":
            raise PreprocessingError(f"expected an RGB image, got mode {image.mode!r}")
        if self.resize != "none":
            image = image.resize(self._resized_wh(*image.size), resample=self.resample)
        arr = np.asarray(image)  # (H, W, 3) uint8
        if self.crop is not None:
            arr = center_crop(arr, self.crop)
        if self.rescale_factor is not None:
            out = (arr.astype(np.float64) * self.rescale_factor).astype(np.float32)
        else:
            out = arr.astype(np.float32)
        if self.mean is not None and self.std is not None:
            out = (out - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def _resized_wh(self, width: int, height: int) -> tuple[int, int]:
        """Pillow (width, height) after resizing, as ``get_resize_output_image_size`` computes it."""
        if self.resize == "exact":
            return self.size[1], self.size[0]
        target = self.size[0]
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(target * long / short)
        return (target, new_long) if width <= height else (new_long, target)


def center_crop(arr: np.ndarray, crop: tuple[int, int]) -> np.ndarray:
    """``(h, w, c)`` -> ``(crop_h, crop_w, c)`` centred; zero padding where the image is smaller."""
    height, width = arr.shape[:2]
    ch, cw = crop
    top, left = (height - ch) // 2, (width - cw) // 2
    if top >= 0 and left >= 0:
        return arr[top : top + ch, left : left + cw]
    new_h, new_w = max(ch, height), max(cw, width)
    padded = np.zeros((new_h, new_w, *arr.shape[2:]), dtype=arr.dtype)
    top_pad, left_pad = ceil((new_h - height) / 2), ceil((new_w - width) / 2)
    padded[top_pad : top_pad + height, left_pad : left_pad + width] = arr
    top, left = top + top_pad, left + left_pad
    return padded[max(0, top) : min(new_h, top + ch), max(0, left) : min(new_w, left + cw)]


def _parse_size(size: Any, *, default_to_square: bool) -> tuple[str, tuple[int, ...]]:
    """transformers' ``get_size_dict`` rules -> ("shortest_edge", (s,)) or ("exact", (h, w))."""
    if isinstance(size, int):
        return ("exact", (size, size)) if default_to_square else ("shortest_edge", (size,))
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return "exact", (int(size[0]), int(size[1]))
    if isinstance(size, Mapping):
        keys = set(size)
        if keys == {"shortest_edge"}:
            return "shortest_edge", (int(size["shortest_edge"]),)
        if keys == {"height", "width"}:
            return "exact", (int(size["height"]), int(size["width"]))
    raise PreprocessingError(
        f"size {size!r} is not reproduced here: use {{'shortest_edge': N}} or {{'height': H, 'width': W}}"
    )


def _triple(value: Any, name: str) -> tuple[float, float, float]:
    vals = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(vals) != 3:
        raise PreprocessingError(f"{name} must have 3 values (RGB), got {value!r}")
    return (vals[0], vals[1], vals[2])
