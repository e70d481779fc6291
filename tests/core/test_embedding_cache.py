"""The SQLite embedding cache: identical vectors on a hit, a miss whenever a setting that changes vectors
changes, several processes at once, a size limit with least-recently-used eviction."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import embedspec
import numpy as np
import pytest
from click.testing import CliRunner
from embedspec.builtin.hashing import HashingEncoder
from embedspec.cli import get_cli
from embedspec.embedding_cache import FILE_NAME, EmbeddingCache
from embedspec.errors import EmbedspecError
from embedspec.fingerprint import model_fingerprint

TEXTS = [f"document number {i} about {['cats', 'dogs', 'birds'][i % 3]}" for i in range(300)]


def test_a_hit_returns_the_stored_vectors_bit_for_bit(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    enc = HashingEncoder(dim=64)
    first = cache.encode(enc, TEXTS, role="document")
    assert (cache.hits, cache.misses) == (0, 300)
    np.testing.assert_array_equal(first, enc.encode(TEXTS))
    again = EmbeddingCache(tmp_path / "cache").encode(enc, TEXTS[::-1] + ["new text"], role="document")
    np.testing.assert_array_equal(again[:300], first[::-1])
    assert again.dtype == np.float32 and again.shape == (301, 64)
    assert (tmp_path / "cache" / FILE_NAME).is_file()


def test_counts_and_duplicates_within_a_call(tmp_path):
    cache = EmbeddingCache(tmp_path)
    enc = HashingEncoder(dim=32)
    out = cache.encode(enc, ["a", "b", "a"], role="query")
    np.testing.assert_array_equal(out[0], out[2])
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 2)
    cache.encode(enc, ["a", "c"], role="query")
    assert (cache.hits, cache.misses, len(cache)) == (1, 4, 3)


@pytest.mark.parametrize("changed", [{"seed": 1}, {"ngram_range": (2, 4)}, {"word_ngrams": 1}, {"lowercase": False}])
def test_a_setting_that_changes_vectors_misses(tmp_path, changed):
    cache = EmbeddingCache(tmp_path)
    cache.encode(HashingEncoder(dim=64), TEXTS[:20])
    other = HashingEncoder(dim=64, **changed)
    out = cache.encode(other, TEXTS[:20])
    assert cache.hits == 0 and cache.misses == 40
    np.testing.assert_array_equal(out, other.encode(TEXTS[:20]))


def test_runtime_settings_and_roles(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.encode(HashingEncoder(dim=64), TEXTS[:20])
    cache.encode(HashingEncoder(dim=64, batch_size=3), TEXTS[:20])  # how fast, not what: a hit
    assert (cache.hits, cache.misses) == (20, 20)
    cache.encode(HashingEncoder(dim=64), TEXTS[:20], role="query")  # the other role: its own prompt, its own key
    assert (cache.hits, cache.misses) == (20, 40)
    assert model_fingerprint(HashingEncoder(dim=64)) == model_fingerprint(HashingEncoder(dim=64, batch_size=3))
    assert model_fingerprint(HashingEncoder(dim=64)) != model_fingerprint(HashingEncoder(dim=65))


def test_size_limit_evicts_the_least_recently_used(tmp_path):
    limit = 400_000
    cache = EmbeddingCache(tmp_path, max_bytes=limit)
    enc = HashingEncoder(dim=64)
    a = [f"a {i}" for i in range(400)]
    b = [f"b {i}" for i in range(400)]
    c = [f"c {i}" for i in range(400)]
    cache.encode(enc, a)
    cache.encode(enc, b)
    cache.encode(enc, a)  # a is used again: b is now the least recently used
    cache.encode(enc, c)
    cache.encode(enc, c)
    cache.evict()
    assert cache.size_bytes() <= limit
    cache.hits = cache.misses = 0
    stored = cache.get([cache.key(cache.fingerprint(enc), "document", t) for t in a + b + c], 64)
    kept = {name: sum(cache.key(cache.fingerprint(enc), "document", t) in stored for t in group)
            for name, group in (("a", a), ("b", b), ("c", c))}
    assert kept["c"] == 400, kept
    assert kept["b"] < kept["a"], kept
    assert len(cache) < 1200


def test_an_unusable_location_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(EmbedspecError, match="cannot open the embedding cache at .*file"):
        EmbeddingCache(tmp_path / "file")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / FILE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EmbedspecError, match="cannot open the embedding cache"):
        EmbeddingCache(tmp_path / "bad")
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        EmbeddingCache(tmp_path, max_bytes=0)


WORKER = """
import json, sys
import numpy as np
from embedspec.builtin.hashing import HashingEncoder
from embedspec.embedding_cache import EmbeddingCache
where, start = sys.argv[1], int(sys.argv[2])
cache = EmbeddingCache(where)
enc = HashingEncoder(dim=48)
texts = [f"shared text {i}" for i in range(start, start + 3000)]
for i in range(0, len(texts), 100):
    out = cache.encode(enc, texts[i:i + 100])
    assert np.array_equal(out, enc.encode(texts[i:i + 100]))
print(json.dumps({"hits": cache.hits, "misses": cache.misses, "errors": cache.errors}))
"""


def test_two_processes_share_one_cache_at_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER), str(tmp_path), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for start in (0, 1500)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert all(r["errors"] == 0 for r in results), results
    assert sum(r["hits"] + r["misses"] for r in results) == 6000
    cache = EmbeddingCache(tmp_path)
    assert len(cache) == 4500  # 0..4499, the overlap stored once
    texts = [f"shared text {i}" for i in range(4500)]
    np.testing.assert_array_equal(cache.encode(HashingEncoder(dim=48), texts), HashingEncoder(dim=48).encode(texts))
    assert cache.misses == 0


SPEC = {"version": 1, "encoder": {"type": "hashing", "dim": 64}, "index": {"type": "exact"}}


def test_the_pipeline_consults_the_cache_for_documents_and_queries(tmp_path, monkeypatch):
    with embedspec.build(SPEC, cache=tmp_path / "c") as pipe:
        report = pipe.ingest(embedspec.pipeline.as_documents(TEXTS), progress=False)
        assert (report.cache_hits, report.cache_misses) == (0, 300)
        pipe.search(["cats"], k=3)
    monkeypatch.setenv("EMBEDSPEC_CACHE", str(tmp_path / "c"))
    with embedspec.build(SPEC) as pipe:  # EMBEDSPEC_CACHE
        report = pipe.ingest(embedspec.pipeline.as_documents(TEXTS), progress=False)
        assert (report.cache_hits, report.cache_misses) == (300, 0)
        hits = pipe.search(["cats"], k=3)
        assert pipe.cache.hits == 301
    with embedspec.build(SPEC, cache=False) as pipe:
        assert pipe.cache is None
        assert pipe.search(["cats"], k=3) == [[]]  # a fresh in-memory index
    assert len(hits) == 1 and len(hits[0]) == 3


def test_index_command_reports_cache_hits(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nencoder: {{type: hashing, dim: 64}}\nindex: {{type: exact, path: {tmp_path / 'idx'}}}\n")
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:40]))
    run = lambda *a: CliRunner().invoke(get_cli(), [str(x) for x in a])  # noqa: E731
    result = run("index", spec, "--input", docs, "--cache", tmp_path / "cache", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "cache 0 hits / 40 misses" in result.output
    shutil.rmtree(tmp_path / "idx")
    result = run("index", spec, "--input", docs, "--cache", tmp_path / "cache", "--no-progress")
    assert "40 written" in result.output and "cache 40 hits / 0 misses" in result.output, result.output


def test_minilm_fingerprint_follows_weights_card_and_settings(tmp_path, minilm_dir):
    """The real ONNX MiniLM: settings and model-card edits that change vectors miss; runtime ones hit."""
    from embedspec.plugins import get_registry

    make = lambda **kw: get_registry().get("encoder", "onnx-text").create({"model": str(minilm_dir), **kw})  # noqa: E731
    texts = ["a study of cells", "protein folding", "the immune response"]
    cache = EmbeddingCache(tmp_path / "cache")
    first = cache.encode(make(), texts)
    np.testing.assert_array_equal(cache.encode(make(threads=1, batch_size=2), texts), first)
    assert (cache.hits, cache.misses) == (3, 3)
    for changed in ({"document_prompt": "passage: "}, {"pooling": "cls"}, {"max_length": 8}, {"normalize": False}):
        encoder = make(**changed)
        out = cache.encode(encoder, texts)
        assert cache.hits == 3, f"{changed} must miss"
        np.testing.assert_allclose(out, encoder.encode(texts), atol=1e-6)
    copy = tmp_path / "copied-model"
    shutil.copytree(minilm_dir, copy)
    moved = get_registry().get("encoder", "onnx-text").create({"model": str(copy)})
    np.testing.assert_array_equal(cache.encode(moved, texts), first)  # the same files elsewhere: a hit
    assert cache.hits == 6
    card = json.loads((copy / "embedspec.json").read_text())
    card["document_prompt"] = "passage: "
    (copy / "embedspec.json").write_text(json.dumps(card))
    edited = get_registry().get("encoder", "onnx-text").create({"model": str(copy)})
    cache.encode(edited, texts)
    assert cache.hits == 6, "an edited model card (default prompt) must miss"


def test_read_only_builds_ignore_the_environment_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSPEC_CACHE", str(tmp_path / "env-cache"))
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 8}, "index": {"type": "exact", "path": str(tmp_path / "i")}}
    with embedspec.build(spec, read_only=True) as pipe:
        assert pipe.cache is None
    assert not (tmp_path / "env-cache").exists(), "a read-only build creates nothing"
    with embedspec.build(spec, read_only=True, cache=tmp_path / "asked") as pipe:
        assert pipe.cache is not None and pipe.cache.file.parent == tmp_path / "asked"


def test_multi_vector_encoders_pass_through_uncached(tmp_path):
    from embedspec.base import BaseEncoder
    from embedspec.embedding_cache import EmbeddingCache
    from embedspec.representations import MultiVectors

    class Tokens(BaseEncoder):
        output_kind = "multi"
        dim = 3

        def _encode_batch(self, inputs, role):
            return MultiVectors.from_list([np.full((len(t), 3), 1.0, dtype=np.float32) for t in inputs])

    cache = EmbeddingCache(tmp_path / "cache")
    out = cache.encode(Tokens(), ["ab", "c"])
    assert isinstance(out, MultiVectors) and out.lengths.tolist() == [2, 1]
    assert len(cache) == 0
