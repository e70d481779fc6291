"""Export a CLIP or SigLIP checkpoint to a model directory, verified before anything is written.

    from embedspec_onnx.clip.export import export_clip
    export_clip("openai/clip-vit-base-patch32", "models/clip-b32")

Each tower is exported on its own with optimum's ONNX exporter (``export_models`` with our ONNX
configs): optimum's ``clip``/``siglip`` configs export one graph that needs images *and* texts in
every call and returns normalized embeddings, and it has no config for the CLIP vision tower with
its projection. We export ``CLIPTextModelWithProjection`` / ``CLIPVisionModelWithProjection``
(SigLIP: ``SiglipTextModel`` / ``SiglipVisionModel`` pooler outputs), sharing the loaded model's
weights, so the graphs compute exactly ``get_text_features`` / ``get_image_features``. The result
is written to a temporary folder beside ``out``, encoded there by ``OnnxClipEncoder`` (our
tokenization and preprocessing included) and compared with the transformers forward pass (its own
tokenizer and image processor); only a directory within ``atol`` is moved to ``out``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.errors import EmbedspecError

from ..common.card import ExportInfo, ExportVerificationError
from ..common.export_noise import quiet_export
from ..common.runtime import require
from .card import TEMPLATES, ClipModelCard
from .preprocess import ImagePreprocessing

FAMILIES = ("clip", "siglip")
SAMPLE_TEXTS = (
    "a photo of a cat",
    "",
    "A DIAGRAM OF AN ELECTRIC CIRCUIT, drawn by hand!",
    "un chien qui court sur la plage au coucher du soleil 🐕",
    "   leading and trailing spaces   ",
    " ".join(["a very long caption that goes on and on past the maximum length"] * 12),
)


def export_clip(
    src: str | Path,
    out: str | Path,
    *,
    opset: int | None = None,
    atol: float = 1e-4,
    overwrite: bool = False,
    name: str | None = None,
    texts: Sequence[str] | None = None,
    images: Sequence[Any] | None = None,
) -> ClipModelCard:
    """Export checkpoint ``src`` (local folder or hub id) to model directory ``out``; return its card.

    ``name`` is recorded in ``embedspec.json`` (default: ``src``). ``texts``/``images`` replace the
    verification samples. Raises ``ExportVerificationError`` (writing nothing) when any text or image embedding differs
    from ``get_text_features`` / ``get_image_features`` by more than ``atol``.
    """
    torch = require("torch")
    transformers = require("transformers")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise EmbedspecError(f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    model = transformers.AutoModel.from_pretrained(str(src)).eval()
    family = model.config.model_type
    if family not in FAMILIES:
        raise EmbedspecError(
            f"{src} is a {family!r} model; export_clip handles {', '.join(FAMILIES)} "
            "(text models: use the text export)"
        )
    tokenizer = load_tokenizer(transformers, src)
    processor = transformers.AutoImageProcessor.from_pretrained(str(src), use_fast=False)
    card = make_card(model, tokenizer, processor, name=name or str(src))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.export-", dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        used_opset = export_towers(model, tmp, opset=opset)
        fast_tokenizer(transformers, src, tokenizer).backend_tokenizer.save(str(tmp / card.files["tokenizer"]))
        processor.to_json_file(str(tmp / card.files["preprocessor"]))
        card.write(tmp)
        with torch.no_grad():
            diff = verify(tmp, model, tokenizer, processor, texts=texts, images=images)
        if not diff <= atol:
            raise ExportVerificationError(
                f"exported {src} differs from the transformers forward pass by {diff:.3g} (max abs, "
                f"tolerance {atol:g}); nothing was written to {out}",
                max_abs_diff=diff,
            )
        card = card.replace(
            export=ExportInfo(source=str(src), exporter="optimum", opset=used_opset, verified_max_abs_diff=diff)
        )
        card.write(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        tmp.mkdir()  # TemporaryDirectory removes it on exit
    return card


def checkpoint_family(src: str | Path) -> str | None:
    """``"clip"`` / ``"siglip"`` when ``src`` (folder or hub id) is one, else None: for CLI dispatch."""
    transformers = require("transformers")
    model_type = transformers.AutoConfig.from_pretrained(str(src)).model_type
    return model_type if model_type in FAMILIES else None


def load_tokenizer(transformers: Any, src: str | Path) -> Any:
    """The checkpoint's own tokenizer (the verification reference; slow or fast)."""
    try:
        return transformers.AutoTokenizer.from_pretrained(str(src))
    except (ImportError, ValueError, OSError) as exc:
        raise EmbedspecError(f"cannot load the tokenizer of {src}: {exc}") from exc


def fast_tokenizer(transformers: Any, src: str | Path, tokenizer: Any) -> Any:
    """A ``tokenizers``-backed tokenizer to write as ``tokenizer.json`` (verified against ``tokenizer``)."""
    if getattr(tokenizer, "is_fast", False):
        return tokenizer
    try:  # e.g. SigLIP: transformers has only a slow (sentencepiece) class, some repos ship tokenizer.json
        return transformers.PreTrainedTokenizerFast.from_pretrained(str(src))
    except (OSError, ValueError) as exc:
        raise EmbedspecError(
            f"{src} ships no tokenizer.json and transformers cannot convert its "
            f"{type(tokenizer).__name__} to one; add a tokenizer.json to the checkpoint ({exc})"
        ) from exc


def make_card(model: Any, tokenizer: Any, processor: Any, *, name: str) -> ClipModelCard:
    """The card of a loaded CLIPModel/SiglipModel with its tokenizer and image processor."""
    family = model.config.model_type
    text_cfg = model.config.text_config
    limit = int(text_cfg.max_position_embeddings)
    model_max = getattr(tokenizer, "model_max_length", None)
    max_length = min(limit, int(model_max)) if model_max and model_max < 1_000_000 else limit
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if family == "clip" else None
    if pad_id is None:
        raise EmbedspecError(f"{name}: the tokenizer has no pad token; SigLIP pads every text to max_length")
    siglip = family == "siglip"
    return ClipModelCard(
        name=name,
        family=family,
        dim=int(model.config.projection_dim if not siglip else text_cfg.hidden_size),
        max_length=max_length,
        pad_token_id=int(pad_id),
        text_padding="max_length" if siglip else "longest",
        text_output="pooler_output" if siglip else "text_embeds",
        image_output="pooler_output" if siglip else "image_embeds",
        image=ImagePreprocessing.from_hf(processor.to_dict()),
        logit_scale=float(model.logit_scale.exp().item()),
        logit_bias=float(model.logit_bias.item()) if siglip else None,
        activation="sigmoid" if siglip else "softmax",
        zero_shot_template=TEMPLATES[family],
    )


def export_towers(model: Any, out: Path, *, opset: int | None = None) -> int:
    """Write ``text_model.onnx`` and ``vision_model.onnx`` of ``model`` into ``out``; return the opset."""
    from optimum.exporters.onnx.convert import export_models

    towers = _towers(model)
    opset = opset or max(cfg.DEFAULT_ONNX_OPSET for _, cfg in towers.values())
    with quiet_export():
        export_models(models_and_onnx_configs=towers, output_dir=out, opset=opset)
    return opset


def _towers(model: Any) -> dict[str, tuple[Any, Any]]:
    """Tower modules sharing ``model``'s weights, each with the optimum ONNX config that exports it."""
    import transformers
    from optimum.exporters.onnx import model_configs as mc

    if model.config.model_type == "clip":
        text = transformers.CLIPTextModelWithProjection(model.config.text_config)
        text.text_model, text.text_projection = model.text_model, model.text_projection
        vision = transformers.CLIPVisionModelWithProjection(model.config.vision_config)
        vision.vision_model, vision.visual_projection = model.vision_model, model.visual_projection

        class TextConfig(mc.CLIPTextWithProjectionOnnxConfig):
            outputs = property(lambda self: {"text_embeds": {0: "batch_size"}})

        class VisionConfig(mc.CLIPVisionModelOnnxConfig):
            outputs = property(lambda self: {"image_embeds": {0: "batch_size"}})

    else:
        text = transformers.SiglipTextModel(model.config.text_config)
        text.text_model = model.text_model
        vision = transformers.SiglipVisionModel(model.config.vision_config)
        vision.vision_model = model.vision_model

        class TextConfig(mc.SiglipTextOnnxConfig):  # type: ignore[no-redef]
            outputs = property(lambda self: {"pooler_output": {0: "batch_size"}})

        class VisionConfig(mc.SiglipVisionModelOnnxConfig):  # type: ignore[no-redef]
            outputs = property(lambda self: {"pooler_output": {0: "batch_size"}})

    return {
        "text_model": (text.eval(), TextConfig(model.config.text_config, task="feature-extraction")),
        "vision_model": (vision.eval(), VisionConfig(model.config.vision_config, task="feature-extraction")),
    }


def verify(
    directory: Path,
    model: Any,
    tokenizer: Any,
    processor: Any,
    *,
    texts: Sequence[str] | None = None,
    images: Sequence[Any] | None = None,
) -> float:
    """Max abs difference between ``OnnxClipEncoder`` (unnormalized) and transformers' features."""

    from .encoder import OnnxClipEncoder
    from .images import decode_image

    card = ClipModelCard.read(directory)
    texts = list(texts or SAMPLE_TEXTS)
    images = list(images or sample_images())
    encoder = OnnxClipEncoder(model=str(directory), device="cpu", normalize=False)
    # texts together (padded to the longest) and one at a time (padded to themselves): padding must not matter
    ours_texts = [encoder.encode(texts), np.concatenate([encoder.encode([t]) for t in texts])]
    ours_image = encoder.encode(images)
    padding = "max_length" if card.text_padding == "max_length" else True
    tok = tokenizer(texts, padding=padding, truncation=True, max_length=card.max_length, return_tensors="pt")
    if card.family == "siglip":  # SigLIP is used (and was trained) without an attention mask
        ref_text = model.get_text_features(input_ids=tok["input_ids"])
    else:
        ref_text = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
    rgb = [decode_image(img, i) for i, img in enumerate(images)]
    pixels = processor(images=rgb, return_tensors="pt")["pixel_values"]
    ref_image = model.get_image_features(pixel_values=pixels)
    ref_text_np = ref_text.detach().numpy()
    return float(max(
        *(np.abs(ours - ref_text_np).max() for ours in ours_texts),
        np.abs(ours_image - ref_image.detach().numpy()).max(),
    ))


def sample_images() -> list[np.ndarray]:
    """Four photo-like ``(H, W, 3) uint8`` images of different sizes for verification."""
    rng = np.random.default_rng(0)
    out = []
    for h, w in ((240, 320), (300, 200), (97, 333), (150, 150)):
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([200 * y + 30, 180 * x + 40, 120 * (1 - y) + 60 * np.sin(12 * x)], axis=-1)
        base[(y - 0.3) ** 2 + (x - 0.4) ** 2 < 0.02] = (240, 210, 90)
        out.append(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    return out
