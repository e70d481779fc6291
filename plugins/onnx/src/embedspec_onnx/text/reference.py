"""What a text export is checked against: the source model's transformers forward pass, same pooling."""

from __future__ import annotations

from typing import Any

import numpy as np
from embedspec.base import l2_normalize

from ..common.card import ModelCard
from ..common.runtime import require
from .pooling import pool

#: Varied sample texts: short, long (past most max lengths), unicode, emoji, empty, whitespace.
SAMPLE_TEXTS: list[str] = [
    "hello world",
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog.",
    "Vitamin D deficiency is associated with an increased risk of respiratory infections.",
    "Les modèles d'embedding projettent le texte dans un espace vectoriel.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "机器学习模型将文本映射为向量。",
    "埋め込みモデルはテキストをベクトルに変換します。",
    "Emoji test 🚀🔥✨ with symbols ∑∫√ and accents éàü.",
    "",
    "   ",
    "a",
    "\n\ttabs and newlines\n",
    " ".join(["Long input that goes well past the maximum sequence length of most encoders."] * 60),
    "Short query?",
    "ACE2 expression in lung tissue; SARS-CoV-2 entry (2020) -- results: p < 0.05.",
]


def reference_vectors(src: str, card: ModelCard, texts: list[str], *, role: str = "document",
                      batch_size: int = 8, trust_remote_code: bool = False, layers: int | None = None) -> np.ndarray:
    """``(n, dim) float32``: transformers' ``AutoModel`` forward + the card's pooling/normalization.

    ``layers``: pool ``hidden_states[layers]`` (the output of that layer) instead of the last hidden state.

    Decoders get ``position_ids = cumsum(mask) - 1`` (the ONNX encoder feeds the same).
    """
    transformers = require("transformers")
    torch = require("torch")
    tok = transformers.AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
    tok.padding_side = card.padding_side
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = transformers.AutoModel.from_pretrained(src, trust_remote_code=trust_remote_code).eval()
    prompt = card.prompt(role)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = [prompt + t for t in texts[start : start + batch_size]]
            enc = tok(chunk, padding=True, truncation=True, max_length=card.max_length, return_tensors="pt")
            kwargs: dict[str, Any] = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
            if card.architecture == "decoder":
                kwargs["position_ids"] = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            elif "token_type_ids" in enc:
                kwargs["token_type_ids"] = enc["token_type_ids"]
            output = model(**kwargs, output_hidden_states=layers is not None)
            state = output.last_hidden_state if layers is None else output.hidden_states[layers]
            hidden = state.float().numpy()
            parts.append(pool(hidden, enc["attention_mask"].numpy(), card.pooling))
    vectors = np.concatenate(parts)[:, : card.dim]
    return l2_normalize(vectors) if card.normalize else vectors.astype(np.float32)


def reference_token_vectors(src: str, card: ModelCard, texts: list[str], *, role: str = "document",
                            projection: Any = None, query_length: int | None = None, attend_to_mask: bool = False,
                            skip_punctuation: bool = False, batch_size: int = 8) -> list[np.ndarray]:
    """``(tokens_i, d) float32`` per text, computed as ColBERT does, independently of ``tokens.py``:
    transformers' tokenizer (queries padded to ``query_length`` with ``padding="max_length"``, then pad
    ids replaced by the mask id), ``AutoModel`` forward, ``torch.nn.functional.linear`` with the
    projection's weight/bias, per-token L2 normalisation (when the card normalizes), special tokens
    dropped, and punctuation tokens (``tokenizer.encode(symbol)``) for documents when asked."""
    import string

    transformers = require("transformers")
    torch = require("torch")
    tok = transformers.AutoTokenizer.from_pretrained(src)
    model = transformers.AutoModel.from_pretrained(src).eval()
    prompt = card.prompt(role)
    augment = role == "query" and query_length is not None
    skip = ({tok.encode(c, add_special_tokens=False)[0] for c in string.punctuation}
            if skip_punctuation and role == "document" else set())
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = [prompt + t for t in texts[start : start + batch_size]]
            if augment:
                enc = tok(chunk, padding="max_length", truncation=True, max_length=query_length,
                          return_tensors="pt", return_special_tokens_mask=True)
                pads = enc["attention_mask"] == 0
                enc["input_ids"][pads] = tok.mask_token_id
                if attend_to_mask:
                    enc["attention_mask"][pads] = 1
            else:
                enc = tok(chunk, padding=True, truncation=True, max_length=card.max_length, return_tensors="pt",
                          return_special_tokens_mask=True)
                pads = torch.zeros_like(enc["attention_mask"], dtype=torch.bool)
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           token_type_ids=enc.get("token_type_ids")).last_hidden_state.float()
            if projection is not None:
                bias = None if projection.bias is None else torch.from_numpy(projection.bias)
                hidden = torch.nn.functional.linear(hidden, torch.from_numpy(projection.weight), bias)
            if card.normalize:
                hidden = torch.nn.functional.normalize(hidden, dim=-1)
            keep = (enc["special_tokens_mask"] == 0) & (enc["attention_mask"] == 1) | pads
            for row in range(hidden.shape[0]):
                ids = enc["input_ids"][row]
                row_keep = keep[row] & ~torch.tensor([int(i) in skip for i in ids])
                out.append(hidden[row][row_keep].numpy().astype(np.float32))
    return out


def reference_sparse_weights(src: str, card: ModelCard, texts: list[str], *, role: str = "document",
                             batch_size: int = 8, trust_remote_code: bool = False) -> np.ndarray:
    """``(n, vocab) float32`` SPLADE-max weights computed in torch, independently of ``sparse.py``:
    ``AutoModelForMaskedLM`` logits, ``max_t log(1 + relu(logits)) * attention_mask`` (as SPLADE's code)."""
    transformers = require("transformers")
    torch = require("torch")
    tok = transformers.AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
    model = transformers.AutoModelForMaskedLM.from_pretrained(src, trust_remote_code=trust_remote_code).eval()
    prompt = card.prompt(role)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = [prompt + t for t in texts[start : start + batch_size]]
            enc = tok(chunk, padding=True, truncation=True, max_length=card.max_length, return_tensors="pt")
            logits = model(**enc).logits.float()
            weights = torch.log1p(torch.relu(logits)) * enc["attention_mask"].unsqueeze(-1)
            parts.append(torch.max(weights, dim=1).values.numpy())
    return np.concatenate(parts).astype(np.float32)
