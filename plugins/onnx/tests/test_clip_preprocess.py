"""Image preprocessing equals transformers' CLIPImageProcessor / SiglipImageProcessor (<= 1e-5)."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("PIL", reason="Pillow is needed for image preprocessing (embedspec-onnx[cpu])")
transformers = pytest.importorskip("transformers", reason="transformers is the reference (embedspec-onnx[export])")

from clip_fixtures import photo_like, real_photos, sample_images  # noqa: E402
from embedspec_onnx.clip.images import decode_image  # noqa: E402
from embedspec_onnx.clip.preprocess import ImagePreprocessing, PreprocessingError, center_crop  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

OPENAI_LEGACY = {  # openai/clip-vit-base-patch32's preprocessor_config.json, verbatim
    "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224,
}
SIGLIP_BASE = {  # google/siglip-base-patch16-224's preprocessor_config.json (no do_convert_rgb)
    "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5],
    "processor_class": "SiglipProcessor", "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"height": 224, "width": 224},
}


def processors() -> dict[str, object]:
    from transformers import CLIPImageProcessor, SiglipImageProcessor

    return {
        "clip-openai-legacy": CLIPImageProcessor.from_dict(OPENAI_LEGACY),
        "clip-336-bilinear": CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                                resample=2),
        "clip-exact-crop-larger": CLIPImageProcessor(size={"height": 200, "width": 180},
                                                     crop_size={"height": 224, "width": 224}),
        # the checkpoint config leaves do_convert_rgb unset; the model needs 3 channels, so we always
        # convert, and give transformers the same RGB conversion
        "siglip-224": SiglipImageProcessor.from_dict({**SIGLIP_BASE, "do_convert_rgb": True}),
        "siglip-384-lanczos": SiglipImageProcessor(size={"height": 384, "width": 384}, resample=1,
                                                   image_mean=[0.5] * 3, image_std=[0.5] * 3, do_convert_rgb=True),
    }


IMAGES = {**sample_images(), **real_photos()}


@pytest.mark.parametrize("proc_name", list(processors()))
def test_equal_to_transformers_on_every_mode_and_size(proc_name: str) -> None:
    proc = processors()[proc_name]
    ours = ImagePreprocessing.from_hf(proc.to_dict())
    modes = set()
    for name, data in IMAGES.items():
        opened = Image.open(io.BytesIO(data))
        modes.add(opened.mode)
        reference_input = ImageOps.exif_transpose(opened)  # what transformers.image_utils.load_image does
        ref = proc(images=reference_input, return_tensors="np")["pixel_values"][0]
        got = ours([decode_image(data, 0, high_bit_depth="clip")])[0]
        assert got.shape == ref.shape, name
        assert got.dtype == np.float32
        diff = float(np.abs(got - ref).max())
        assert diff <= 1e-5, f"{proc_name} on {name} ({opened.mode} {opened.size}): max abs diff {diff}"
    assert {"RGB", "RGBA", "L", "P", "I;16", "CMYK", "LA", "1"} <= modes
    assert any("grace_hopper" in n for n in IMAGES), "matplotlib's sample photo should be among the inputs"


def test_reads_both_config_generations() -> None:
    legacy = ImagePreprocessing.from_hf(OPENAI_LEGACY)
    assert (legacy.resize, legacy.size, legacy.crop, legacy.resample) == ("shortest_edge", (224,), (224, 224), 3)
    assert legacy.rescale_factor == pytest.approx(1 / 255)
    siglip = ImagePreprocessing.from_hf(SIGLIP_BASE)
    assert (siglip.resize, siglip.size, siglip.crop, siglip.mean) == ("exact", (224, 224), None, (0.5, 0.5, 0.5))
    assert ImagePreprocessing.model_validate_json(siglip.model_dump_json(exclude_none=True)) == siglip


def test_exif_orientation_is_applied() -> None:
    data = IMAGES["RGB-exif6-200x320.jpg"]
    raw = Image.open(io.BytesIO(data))
    assert raw.size == (320, 200)
    assert decode_image(data, 0).size == (200, 320)  # orientation 6: rotated to portrait


def test_sixteen_bit_is_scaled_not_clipped_by_default() -> None:
    data = IMAGES["I16-230x310.png"]
    raw = np.asarray(Image.open(io.BytesIO(data)), dtype=np.int64)
    assert raw.max() > 255
    scaled = np.asarray(decode_image(data, 0))
    clipped = np.asarray(decode_image(data, 0, high_bit_depth="clip"))
    np.testing.assert_array_equal(scaled[..., 0], (raw + 128) // 257)
    assert (clipped == 255).mean() > 0.9  # what convert("RGB") (and so transformers) does to 16-bit grey
    assert (scaled == 255).mean() < 0.05 and scaled.std() > 10  # the content survives
    # with "scale", the result equals transformers fed the properly reduced 8-bit image
    proc = processors()["clip-openai-legacy"]
    ref = proc(images=Image.fromarray(((raw + 128) // 257).astype(np.uint8)).convert("RGB"),
               return_tensors="np")["pixel_values"][0]
    ours = ImagePreprocessing.from_hf(OPENAI_LEGACY)([decode_image(data, 0)])[0]
    assert float(np.abs(ours - ref).max()) <= 1e-5


@pytest.mark.parametrize("shape,crop", [((10, 7, 3), (16, 16)), ((30, 8, 3), (16, 20)), ((40, 50, 3), (17, 31))])
def test_center_crop_matches_transformers_padding(shape: tuple[int, ...], crop: tuple[int, int]) -> None:
    from transformers.image_transforms import center_crop as hf_center_crop
    from transformers.image_utils import ChannelDimension

    arr = photo_like(shape[0], shape[1], seed=3)
    ref = hf_center_crop(arr, crop, input_data_format=ChannelDimension.LAST)
    np.testing.assert_array_equal(center_crop(arr, crop), ref)


def test_unreproducible_configs_are_refused() -> None:
    with pytest.raises(PreprocessingError, match="ViTImageProcessor"):
        ImagePreprocessing.from_hf({"image_processor_type": "ViTImageProcessor"})
    with pytest.raises(PreprocessingError, match="longest_edge"):
        ImagePreprocessing.from_hf({"image_processor_type": "CLIPImageProcessor",
                                    "size": {"shortest_edge": 224, "longest_edge": 448}})
    with pytest.raises(PreprocessingError, match="output size must not depend on the image"):
        ImagePreprocessing.from_hf({"image_processor_type": "CLIPImageProcessor", "do_center_crop": False})
    with pytest.raises(PreprocessingError, match="image_mean must have 3"):
        ImagePreprocessing.from_hf({"image_processor_type": "CLIPImageProcessor", "image_mean": [0.5, 0.5]})
