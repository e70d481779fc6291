"""The evaluation runners work on the pipeline they are given without changing or closing it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from embedspec.builtin.hashing import HashingEncoder
from embedspec.errors import IndexLockedError
from embedspec.eval.beir import load_beir
from embedspec.eval.classification import evaluate_classification
from embedspec.eval.compare import compare_specs
from embedspec.eval.encoding import CachingEncoder, EmbeddingCache, through_encoder
from embedspec.eval.retrieval import evaluate_retrieval
from embedspec.eval.similarity import evaluate_pairs
from embedspec.pipeline import build

SPEC = "version: 1\nencoder:\n  type: hashing\n  dim: 256\nindex:\n  type: exact\n"
TOPICS = ["cats purr and sleep", "dogs bark loudly", "fish swim in water", "birds fly south", "trains run on rails",
          "rain falls from clouds", "bread is baked in ovens", "chess is a board game"]


def make_beir(root):
    """12 documents (8 topics, 4 fillers), 3 judged queries."""
    docs = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(TOPICS)]
    docs += [{"_id": f"x{i}", "title": "", "text": f"unrelated filler text number {i}"} for i in range(4)]
    queries = [{"_id": "q0", "text": "purring cats"}, {"_id": "q1", "text": "a dog that barks"},
               {"_id": "q2", "text": "swimming fish"}]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td1\t1\nq2\td2\t1\n")
    return root


def persistent_spec(path) -> str:
    return SPEC.replace("index:", "compressors:\n  - type: int8\nindex:").replace(
        "type: exact", f"type: exact\n  path: {path}")


def snapshot(pipe) -> dict:
    return {name: (value, list(value) if isinstance(value, list) else None) for name, value in vars(pipe).items()}


def assert_unchanged(pipe, before: dict) -> None:
    after = vars(pipe)
    assert set(after) == set(before)
    for name, (value, items) in before.items():
        assert after[name] is value, f"pipeline.{name} was replaced"
        if items is not None:
            assert all(a is b for a, b in zip(after[name], items, strict=True)), f"pipeline.{name} changed"


def test_retrieval_leaves_the_pipeline_usable_and_unchanged(tmp_path):
    dataset = load_beir(make_beir(tmp_path / "beir"))
    spec = persistent_spec(tmp_path / "idx")
    pipe = build(spec)
    encoder, written = pipe.encoder, pipe.to_spec()
    before = snapshot(pipe)
    result = evaluate_retrieval(pipe, dataset, cache=EmbeddingCache(), progress=False)

    assert_unchanged(pipe, before)
    assert pipe.encoder is encoder and type(pipe.encoder) is HashingEncoder
    assert pipe.to_spec() == written == result.spec
    assert pipe.count() == 12 and result.disk_bytes_per_vector > 0
    # still open: this process holds the index, and searching gives the evaluation's own ranking
    with pytest.raises(IndexLockedError, match="another open index object in this process"):
        build(spec)
    hits = pipe.search(["purring cats"], k=3)[0]
    expected = sorted(result.run["q0"].items(), key=lambda item: (-item[1], item[0]))[:3]
    assert [h.id for h in hits] == [doc for doc, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected])
    pipe.add(["one more document"], ids=["extra"])
    assert pipe.count() == 13
    pipe.close()  # the caller's business
    with build(spec, read_only=True) as again:
        assert again.count() == 13


def test_pairs_and_classification_leave_the_pipeline_unchanged(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\ncats purr\tcats purr softly\t4.5\nfish swim\ttrains run\t0.5\n"
                     "dogs bark\ta dog barks\t4.0\n")
    folder = tmp_path / "cls"
    folder.mkdir()
    for split in ("train", "test"):
        rows = [f"{label} {word} today\t{label}" for label in ("sport", "food") for word in ("one", "two", "three")]
        (folder / f"{split}.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    with build(persistent_spec(tmp_path / "idx")) as pipe:
        pipe.add(["already indexed"], ids=["a"])
        before = snapshot(pipe)
        assert evaluate_pairs(pipe, pairs)["num_pairs"] == 3
        assert evaluate_classification(pipe, folder)["macro_f1"] == 1.0
        assert_unchanged(pipe, before)
        assert [h.id for h in pipe.search(["already indexed"], k=1)[0]] == ["a"]


def test_compare_closes_the_pipelines_it_builds(tmp_path):
    dataset = load_beir(make_beir(tmp_path / "beir"))
    specs = [("a", persistent_spec(tmp_path / "a")), ("b", persistent_spec(tmp_path / "b"))]
    results = compare_specs(specs, dataset, progress=False)
    assert [r.label for r in results] == ["a", "b"] and results[0].metrics == results[1].metrics
    for _, spec in specs:  # no lock left behind, and every vector was written
        with build(spec) as pipe:
            assert pipe.count() == 12


def test_a_failed_evaluation_leaves_the_pipeline_open(tmp_path, monkeypatch):
    dataset = load_beir(make_beir(tmp_path / "beir"))
    spec = persistent_spec(tmp_path / "idx")
    with build(spec) as pipe:
        def boom(*a, **k):
            raise RuntimeError("search failed")

        monkeypatch.setattr(type(pipe.index), "search", boom)
        with pytest.raises(RuntimeError, match="search failed"):
            evaluate_retrieval(pipe, dataset, progress=False)
        monkeypatch.undo()
        assert pipe.count() == 12 and pipe.search(["purring cats"], k=1)[0][0].id == "d0"


def test_caching_encoder_is_a_transparent_view(tmp_path):
    with build(SPEC) as pipe:
        cache = EmbeddingCache()
        encoder = CachingEncoder(pipe.encoder, cache)
        view = through_encoder(pipe, encoder)
        assert view is not pipe and view.index is pipe.index and view.compressors is pipe.compressors
        assert pipe.encoder is not encoder and encoder.dim == pipe.encoder.dim == 256
        assert encoder.modalities == pipe.encoder.modalities
        texts = ["cats purr", "dogs bark", "cats purr"]
        np.testing.assert_array_equal(view.encode(texts), pipe.encode(texts))
        assert encoder.timing.counts == {"document": 2, "query": 0}  # the repeated text came from the cache
        view.encode(texts)
        assert encoder.timing.counts["document"] == 2
        again = CachingEncoder(pipe.encoder, cache)
        assert again.timing is encoder.timing  # one timing per encoder block
        with pytest.raises(TypeError):
            view.add([{"not": "text"}])  # the inner encoder's own input check still applies
        assert pipe.count() == 0


def test_two_sizes_a_rescoring_quantizer_shows_the_originals_it_keeps(tmp_path):
    dataset = load_beir(make_beir(tmp_path / "beir"))
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 256}, "index": {"type": "exact"}}
    plain, binary = compare_specs(
        [("float32", spec), ("binary+rescore", {**spec, "compressors": [{"type": "binary", "rescore": True}]})],
        dataset, progress=False)
    assert (plain.bytes_per_vector, plain.stored_bytes_per_vector) == (1024, 1024)
    assert (binary.bytes_per_vector, binary.stored_bytes_per_vector) == (32, 32 + 1024)
    from embedspec.eval.compare import markdown_table

    table = markdown_table([plain, binary])
    assert "stored B/vec" in table and "| 1056 |" in table


def test_bytes_per_point_counts_the_token_vectors_of_multi_vectors():
    from embedspec.plugins import get_registry
    from embedspec.representations import MultiVectors

    index = get_registry().get("index", "exact").create({"metric": "dot"})
    index.upsert(["a", "b"], MultiVectors.from_list([np.ones((3, 4)), np.ones((1, 4))]))
    assert index.bytes_per_point() == (4 * 4 * 4 + 8 * 3) / 2  # 4 token rows of 4 float32, 3 int64 offsets
