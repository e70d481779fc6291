"""``embedspec eval`` / ``compare`` end to end on small datasets built here (hashing encoder, exact index)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from embedspec.base import l2_normalize
from embedspec.cli import get_cli
from embedspec.eval.beir import load_beir
from embedspec.eval.classification import LinearProbe
from embedspec.eval.compare import compare_specs, pareto_front
from embedspec.eval.encoding import EmbeddingCache
from embedspec.eval.metrics import evaluate_run, f1_scores, pearson, spearman
from embedspec.pipeline import build

TOPICS = ["cats purr and sleep", "dogs bark loudly", "fish swim in water", "birds fly south",
          "trains run on rails", "rain falls from clouds", "bread is baked in ovens", "chess is a board game"]


def make_beir(root: Path) -> Path:
    """12 documents, 6 judged queries (graded, one with two relevant documents), one unjudged."""
    docs = [{"_id": f"d{i}", "title": f"doc {i}", "text": t} for i, t in enumerate(TOPICS)]
    docs += [{"_id": f"x{i}", "title": "", "text": f"unrelated filler text number {i}"} for i in range(4)]
    queries = [{"_id": "q0", "text": "purring cats"}, {"_id": "q1", "text": "a dog that barks"},
               {"_id": "q2", "text": "swimming fish"}, {"_id": "q3", "text": "rails and trains"},
               {"_id": "q4", "text": "clouds of rain"}, {"_id": "q5", "text": "bread and chess"},
               {"_id": "q6", "text": "not judged"}]
    qrels = ["q0\td0\t2", "q1\td1\t1", "q2\td2\t1", "q3\td4\t1", "q4\td5\t1", "q5\td6\t2", "q5\td7\t1"]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    return root


SPEC = "version: 1\nencoder:\n  type: hashing\n  dim: 256\nindex:\n  type: exact\n"


@pytest.fixture
def workdir(tmp_path):
    make_beir(tmp_path / "beir")
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(get_cli(), [str(a) for a in args], catch_exceptions=False)


def reference_run(beir: Path) -> dict[str, dict[str, float]]:
    """The same retrieval done by hand: hashing vectors, cosine, every document scored."""
    ds = load_beir(beir)
    encoder = build(SPEC).encoder
    doc_ids, texts = ds.documents()
    D = l2_normalize(encoder.encode(texts, role="document"))
    Q = l2_normalize(encoder.encode(list(ds.queries.values()), role="query"))
    scores = Q @ D.T
    return {qid: {d: float(s) for d, s in zip(doc_ids, row)} for qid, row in zip(ds.queries, scores)}


def test_eval_beir_matches_a_hand_computed_run(workdir):
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--json", workdir / "out.json",
              "--report", workdir / "out.md", "--no-progress")
    assert res.exit_code == 0, res.output
    got = json.loads((workdir / "out.json").read_text())
    expected = evaluate_run(load_beir(workdir / "beir").qrels, reference_run(workdir / "beir"))
    assert got["metrics"] == pytest.approx(expected.means, abs=1e-6)
    assert got["metrics"]["ndcg@10"] > 0.5  # the hashing encoder finds most of these
    assert got["num_documents"] == 12 and got["num_queries"] == 6
    assert got["bytes_per_vector"] == 1024 and got["disk_bytes_per_vector"] is None
    assert got["encode_docs_per_s"] > 0 and got["latency_p50_ms"] > 0
    assert got["spec"]["encoder"] == {"type": "hashing", "dim": 256}
    assert f"ndcg@10       {got['metrics']['ndcg@10']:.4f}" in res.output
    report = (workdir / "out.md").read_text()
    assert "| ndcg@10 |" in report and "embedspec eval" in report and "type: hashing" in report


def test_eval_limit_queries_and_metrics_option(workdir):
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--limit-queries", "2",
              "--metrics", "ndcg@3,precision@1", "--json", workdir / "o.json", "--no-progress")
    assert res.exit_code == 0, res.output
    got = json.loads((workdir / "o.json").read_text())
    assert got["num_queries"] == 2 and set(got["metrics"]) == {"ndcg@3", "precision@1"}
    bad = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--metrics", "map@10")
    assert bad.exit_code == 2 and "unknown metric 'map@10'" in bad.output


def test_eval_reports_bad_folders_before_encoding(workdir, monkeypatch):
    from embedspec.builtin.hashing import HashingEncoder

    def boom(*a, **k):
        raise AssertionError("encoded before validating the dataset")

    monkeypatch.setattr(HashingEncoder, "encode", boom)
    (workdir / "beir" / "qrels" / "test.tsv").unlink()
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir")
    assert res.exit_code == 1
    assert "missing qrels file" in res.stderr and "test.tsv" in res.stderr
    with (workdir / "beir" / "queries.jsonl").open("a") as fh:
        fh.write('{"_id": "q7", "text": \n')
    (workdir / "beir" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir")
    assert res.exit_code == 1 and "queries.jsonl:8: malformed JSON" in res.stderr


def test_eval_warns_about_unknown_ids_and_goes_on(workdir):
    with (workdir / "beir" / "qrels" / "test.tsv").open("a") as fh:
        fh.write("q0\tghost\t1\nq99\td1\t1\n")
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--no-progress")
    assert res.exit_code == 0
    assert "warning: test.tsv: dropped 1 judgments naming unknown query ids: line 10 ('q99')" in res.stderr
    assert "warning: test.tsv: dropped 1 judgments naming unknown document ids: line 9 ('ghost')" in res.stderr


def test_eval_refuses_a_non_empty_index(workdir):
    spec = workdir / "persist.yaml"
    spec.write_text(SPEC.replace("type: exact", f"type: exact\n  path: {workdir / 'idx'}"))
    first = run("eval", spec, "--beir", workdir / "beir", "--json", workdir / "p.json", "--no-progress")
    assert first.exit_code == 0, first.output
    assert json.loads((workdir / "p.json").read_text())["disk_bytes_per_vector"] > 0
    again = run("eval", spec, "--beir", workdir / "beir", "--no-progress")
    assert again.exit_code == 1 and "already holds 12 vectors" in again.stderr


def test_eval_needs_exactly_one_task(workdir):
    res = run("eval", workdir / "spec.yaml")
    assert res.exit_code == 2 and "give exactly one of --beir DIR, --pairs FILE, --classification DIR" in res.output
    res = run("eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--pairs", workdir / "spec.yaml")
    assert res.exit_code == 2 and "(got --beir, --pairs)" in res.output


def test_eval_pairs(workdir):
    rows = [("cats purr", "cats purr softly", 4.5), ("dogs bark", "a dog barks", 4.0),
            ("fish swim", "trains run", 0.5), ("rain falls", "rain falls from clouds", 4.8),
            ("bread", "chess game", 0.0), ("birds fly", "birds fly south", 4.2)]
    path = workdir / "pairs.tsv"
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    res = run("eval", workdir / "spec.yaml", "--pairs", path, "--json", workdir / "pairs.json")
    assert res.exit_code == 0, res.output
    got = json.loads((workdir / "pairs.json").read_text())
    enc = build(SPEC).encoder
    a = l2_normalize(enc.encode([r[0] for r in rows]))
    b = l2_normalize(enc.encode([r[1] for r in rows]))
    cos = (a * b).sum(axis=1)
    gold = [r[2] for r in rows]
    assert got["spearman"] == pytest.approx(spearman(cos, gold))
    assert got["pearson"] == pytest.approx(pearson(cos, gold))
    assert got["num_pairs"] == 6 and got["spearman"] > 0.5


def test_eval_classification_sib200_layout(workdir):
    rng = np.random.default_rng(0)
    words = {"sports": ["goal", "match", "team", "score"], "health": ["flu", "doctor", "vaccine", "fever"],
             "travel": ["flight", "hotel", "beach", "passport"]}
    folder = workdir / "cls"
    folder.mkdir()
    for split, n in (("train", 30), ("test", 12)):
        lines = ["index_id\tcategory\ttext"]
        for i in range(n):
            label = list(words)[i % 3]
            lines.append(f"{i}\t{label}\t{' '.join(rng.choice(words[label], 3))} today")
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    res = run("eval", workdir / "spec.yaml", "--classification", folder, "--json", workdir / "cls.json")
    assert res.exit_code == 0, res.output
    got = json.loads((workdir / "cls.json").read_text())
    from embedspec.eval.datasets import load_classification

    train, test = load_classification(folder)
    enc = build(SPEC).encoder
    probe = LinearProbe().fit(enc.encode(train.texts), train.labels)
    expected = f1_scores(test.labels, probe.predict(enc.encode(test.texts)))
    assert got["macro_f1"] == pytest.approx(expected["macro_f1"])
    assert got["micro_f1"] == pytest.approx(expected["micro_f1"])
    assert got["macro_f1"] == 1.0 and got["num_labels"] == 3  # separable by vocabulary


def test_linear_probe_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model", reason="optional reference: scikit-learn")
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 20))
    y = rng.integers(0, 4, 300)
    X = centers[y] + rng.normal(scale=2.0, size=(300, 20))
    ours = LinearProbe(C=0.5).fit(X, y.tolist())
    ref = sklearn.LogisticRegression(C=0.5, max_iter=5000, tol=1e-10).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(ours.model_.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(StandardScaler().fit_transform(X)), atol=1e-4)


def test_compare_writes_table_and_plot_and_encodes_once(workdir):
    (workdir / "int8.yaml").write_text(SPEC.replace("index:", "compressors:\n  - type: int8\nindex:"))
    out = workdir / "cmp"
    res = run("compare", workdir / "spec.yaml", workdir / "int8.yaml", "--beir", workdir / "beir", "--out", out)
    assert res.exit_code == 0, res.output
    table = (out / "compare.md").read_text()
    assert "| spec |" in table and "| int8 |" in table and "4.0x" in table
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "compare.json").read_text())
    assert [r["label"] for r in data["results"]] == ["spec", "int8"]
    assert data["command"].startswith("embedspec compare ")
    # the encoder ran once for both pipelines
    cache = EmbeddingCache()
    ds = load_beir(workdir / "beir")
    results = compare_specs([("a", SPEC), ("b", workdir / "int8.yaml")], ds, cache=cache, progress=False)
    timing = next(iter(cache.timings.values()))
    assert timing.counts["document"] == 12
    assert results[0].metrics == pytest.approx(evaluate_run(ds.qrels, reference_run(workdir / "beir")).means)
    # the cache survives save / load
    cache.save(workdir / "cache")
    again = EmbeddingCache.load(workdir / "cache")
    compare_specs([("c", SPEC)], ds, cache=again, progress=False)
    assert next(iter(again.timings.values())).counts["document"] == 12


def test_pareto_front():
    pts = [(1536, 0.64), (384, 0.63), (48, 0.55), (48, 0.30), (96, 0.50), (1024, 0.60)]
    assert pareto_front(pts) == [True, True, True, False, False, False]


def test_eval_cache_reuses_vectors_between_runs(workdir, monkeypatch):
    from embedspec.builtin.hashing import HashingEncoder

    args = ["eval", workdir / "spec.yaml", "--beir", workdir / "beir", "--cache", workdir / "cache", "--no-progress"]
    first = run(*args, "--json", workdir / "a.json")
    assert first.exit_code == 0, first.output
    assert (workdir / "cache" / "embeddings.npz").is_file()

    def boom(*a, **k):
        raise AssertionError("re-encoded although the cache holds every vector")

    monkeypatch.setattr(HashingEncoder, "encode", boom)
    second = run(*args, "--json", workdir / "b.json")
    assert second.exit_code == 0, second.output
    a, b = (json.loads((workdir / n).read_text()) for n in ("a.json", "b.json"))
    assert a["metrics"] == b["metrics"] and a["encode_docs_per_s"] == b["encode_docs_per_s"]
