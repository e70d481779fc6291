"""Bad inputs to ``onnx-clip``: every error names the item's position; nothing is silently dropped."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the encoder needs onnxruntime (embedspec-onnx[cpu])")
pytest.importorskip("torch", reason="the tiny test model is exported with torch (embedspec-onnx[export])")

from clip_fixtures import exported_tiny, photo_like, sample_images  # noqa: E402
from embedspec_onnx.clip.encoder import OnnxClipConfig, OnnxClipEncoder  # noqa: E402
from embedspec_onnx.clip.images import ImageInputError, decode_image, modality_of  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder() -> OnnxClipEncoder:
    return OnnxClipEncoder(model=str(exported_tiny("clip")[1]), batch_size=2)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape), with almost no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def good() -> bytes:
    return sample_images()["RGB-300x200.png"]


def bad_at(encoder: OnnxClipEncoder, position: int, bad: object, match: str, n: int = 6,
           error: type[Exception] = ImageInputError) -> Exception:
    items: list[object] = ["a dog", good(), photo_like(40, 50), "a cat", good(), "a car"][:n]
    items.insert(position, bad)
    with pytest.raises(error, match=match) as info:
        encoder.encode(items)
    assert f"position {position}" in str(info.value)
    if isinstance(info.value, ImageInputError):
        assert info.value.position == position
    return info.value


def test_corrupt_and_truncated_files(encoder: OnnxClipEncoder, tmp_path: Path) -> None:
    jpeg = sample_images()["RGB-480x640.jpg"]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(jpeg[:200] + bytes(range(256)) * 40)
    bad_at(encoder, 5, corrupt, r"corrupt\.jpg")  # position 5 is in the third chunk (batch_size 2)
    png = sample_images()["RGB-300x200.png"]
    bad_at(encoder, 1, png[: len(png) // 2], "corrupt or truncated image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(jpeg[: len(jpeg) // 3])
    bad_at(encoder, 3, truncated, "corrupt or truncated")


def test_non_image_and_missing_files(encoder: OnnxClipEncoder, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image at all\n" * 20)
    bad_at(encoder, 2, text_file, "not an image file Pillow can read")
    bad_at(encoder, 4, b"%PDF-1.4 definitely not pixels", "not an image file")
    bad_at(encoder, 0, tmp_path / "missing.jpg", "no such file")


def test_empty_images(encoder: OnnxClipEncoder) -> None:
    bad_at(encoder, 2, np.zeros((0, 0, 3), np.uint8), r"empty: shape \(0, 0, 3\)")
    bad_at(encoder, 1, Image.new("RGB", (0, 0)), r"empty \(0x0\)")
    bad_at(encoder, 3, png_header_only(0, 0), "position 3")  # Pillow rejects a 0x0 PNG header
    bad_at(encoder, 0, b"", "not an image file")


def test_decompression_bomb_limit(encoder: OnnxClipEncoder, tmp_path: Path) -> None:
    err = bad_at(encoder, 4, png_header_only(100_000, 100_000), "decompression bomb")
    assert "10000000000" in str(err) or "exceeds" in str(err)
    bad_at(encoder, 1, png_header_only(10_000, 9_000), "90000000 pixels is over the limit of 89478485")
    small_limit = OnnxClipEncoder(model=encoder.model, max_image_pixels=200 * 200)
    path = tmp_path / "big.png"
    Image.fromarray(photo_like(300, 200)).save(path)
    with pytest.raises(ImageInputError, match=r"position 1 .*60000 pixels is over the limit of 40000"):
        small_limit.encode(["ok", path])
    assert small_limit.encode([photo_like(300, 200)]).shape == (1, encoder.dim)  # arrays are already decoded
    unlimited = OnnxClipEncoder(model=encoder.model, max_image_pixels=None)
    assert unlimited.encode([path]).shape == (1, encoder.dim)


def test_unsupported_types_and_arrays(encoder: OnnxClipEncoder) -> None:
    bad_at(encoder, 1, 3.5, "position 1 is float; supported: str", error=TypeError)
    bad_at(encoder, 3, None, "position 3 is NoneType", error=TypeError)
    bad_at(encoder, 0, {"text": "x"}, "position 0 is dict", error=TypeError)
    bad_at(encoder, 2, np.zeros((20, 20, 3), np.float32), "dtype float32; expected uint8")
    bad_at(encoder, 5, np.zeros((20, 20, 2), np.uint8), r"shape \(20, 20, 2\)")
    bad_at(encoder, 4, np.zeros((3, 20, 20, 3), np.uint8), r"shape \(3, 20, 20, 3\)")


def test_every_failure_is_reported_and_nothing_is_dropped(encoder: OnnxClipEncoder) -> None:
    items = ["a dog", b"garbage bytes", good(), b"\x89PNG\r\n\x1a\n broken", photo_like(30, 30)]
    with pytest.raises(ImageInputError) as info:
        encoder.encode(items, batch_size=8)
    assert info.value.positions == [1, 3]
    assert "2 images could not be used" in str(info.value)
    assert "position 1" in str(info.value) and "position 3" in str(info.value)
    fine = [x for i, x in enumerate(items) if i not in (1, 3)]
    assert encoder.encode(fine).shape == (3, encoder.dim)


def test_strings_are_texts_never_paths(encoder: OnnxClipEncoder, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(photo_like(50, 50)).save(path)
    assert modality_of(str(path)) == "text" and modality_of(path) == "image"
    as_text, as_image = encoder.encode([str(path), path])
    assert float(as_text @ as_image) < 0.999
    np.testing.assert_allclose(as_image, encoder.encode([path.read_bytes()])[0], atol=1e-6)


def test_decode_error_messages_name_the_source() -> None:
    with pytest.raises(ImageInputError, match=r"image at position 7 \(12 bytes\): not an image"):
        decode_image(b"hello world!", 7)
    with pytest.raises(ImageInputError, match=r"image at position 2 \(file '/nonexistent/x.png'\): no such file"):
        decode_image(Path("/nonexistent/x.png"), 2)


def test_config_validates_fields() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_image_pixels"):
        OnnxClipConfig(model="m", max_image_pixels=0)
    with pytest.raises(ValidationError, match="high_bit_depth"):
        OnnxClipConfig(model="m", high_bit_depth="round")
    with pytest.raises(ValidationError, match="extra"):
        OnnxClipConfig(model="m", modality="image")


def test_model_directory_errors(tmp_path: Path) -> None:
    from embedspec_onnx.common.card import ModelCard, ModelDirectoryError

    with pytest.raises(ModelDirectoryError, match="expected hf://ORG/NAME"):
        OnnxClipEncoder(model="hf://no-org").dim  # noqa: B018
    with pytest.raises(ModelDirectoryError, match="does not exist"):
        OnnxClipEncoder(model=str(tmp_path / "nowhere")).dim  # noqa: B018
    ModelCard(name="minilm", family="minilm", dim=384).write(tmp_path)  # a text model directory
    with pytest.raises(ModelDirectoryError, match="kind is 'text', this reader needs 'clip'"):
        OnnxClipEncoder(model=str(tmp_path)).dim  # noqa: B018


def test_hf_scheme_downloads_the_clip_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub cannot be reached here: snapshot_download is replaced by a local copy of an export."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    calls: list[dict[str, object]] = []

    def fake_download(**kwargs: object) -> str:
        calls.append(kwargs)
        return str(exported_tiny("clip")[1])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    enc = OnnxClipEncoder(model="hf://someone/tiny-clip@v1")
    assert enc.dim == 24 and enc.encode(["a dog", photo_like(40, 40)]).shape == (2, 24)
    assert calls[0]["repo_id"] == "someone/tiny-clip" and calls[0]["revision"] == "v1"
    assert {"embedspec.json", "text_model.onnx", "vision_model.onnx", "tokenizer.json"} <= set(calls[0]["allow_patterns"])

    def offline(**kwargs: object) -> str:
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    from embedspec_onnx.common.card import ModelDirectoryError

    with pytest.raises(ModelDirectoryError, match="cannot download hf://someone/tiny-clip .*unreachable"):
        OnnxClipEncoder(model="hf://someone/tiny-clip").dim  # noqa: B018
