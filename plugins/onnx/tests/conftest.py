"""Fixtures for embedspec-onnx: MiniLM exported once per session, a tiny random Qwen2 checkpoint, and
the core's shared ones (evaluation data, a fresh plugin registry). Run from the repository root
(``pytest``) or from this plugin's folder (``pytest tests``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from embedspec.testing_fixtures import fresh_plugins, need, pytest_configure, shared_data  # noqa: F401 - fixtures, markers
from embedspec_onnx.testing_fixtures import INSTALL, minilm_checkpoint, minilm_dir  # noqa: F401 - fixtures

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Qwen2 (hidden 64) with a BPE tokenizer trained here, offline."""
    need("torch", "transformers", "tokenizers", install=INSTALL)
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    corpus = [
        "the quick brown fox jumps over the lazy dog",
        "embedding models map text to vectors for retrieval",
        "decoder models pool the last token or the mean of all tokens",
        "instruct: given a query, retrieve documents that answer the query",
    ] * 4
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<unk>", "<eos>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    eos = tok.token_to_id("<eos>")
    tok.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", eos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>",
                                   model_max_length=64)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=fast.pad_token_id, eos_token_id=eos, bos_token_id=eos,
    )
    path = tmp_path_factory.mktemp("tiny-qwen2") / "checkpoint"
    Qwen2Model(config).eval().save_pretrained(path)
    fast.save_pretrained(path)
    return path
