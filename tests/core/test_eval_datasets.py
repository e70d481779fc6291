"""The BEIR loader: a good folder, and every kind of bad input named with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from embedspec.errors import EmbedspecError
from embedspec.eval.beir import BeirWarning, load_beir
from embedspec.eval.datasets import load_classification, load_pairs


def write_beir(root: Path, corpus=None, queries=None, qrels=None, split: str = "test") -> Path:
    corpus = corpus if corpus is not None else [
        {"_id": "d1", "title": "Cats", "text": "cats purr"},
        {"_id": "d2", "title": "", "text": "dogs bark"},
        {"_id": "d3", "text": "fish swim"},
    ]
    queries = queries if queries is not None else [
        {"_id": "q1", "text": "purring cats"}, {"_id": "q2", "text": "barking"}, {"_id": "q3", "text": "unused"},
    ]
    qrels = qrels if qrels is not None else ["q1\td1\t1", "q2\td2\t2", "q2\td3\t0"]
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    lines = [json.dumps(x) if not isinstance(x, str) else x for x in corpus]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [json.dumps(x) if not isinstance(x, str) else x for x in queries]
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    return root


def test_loads_a_good_folder(tmp_path):
    ds = load_beir(write_beir(tmp_path / "ds"))
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert ds.queries == {"q1": "purring cats", "q2": "barking"}  # only judged queries
    assert ds.documents() == (["d1", "d2", "d3"], ["Cats cats purr", "dogs bark", "fish swim"])
    assert ds.warnings == []
    assert ds.summary() == "ds [test]: 3 documents, 2 queries, 3 judgments"
    assert list(ds.limit_queries(1).queries) == ["q1"]


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_missing_file_is_named(tmp_path, missing):
    root = write_beir(tmp_path / "ds")
    (root / missing).unlink()
    with pytest.raises(EmbedspecError, match=f"missing .*{missing}"):
        load_beir(root)


def test_missing_split_lists_the_splits_found(tmp_path):
    root = write_beir(tmp_path / "ds")
    with pytest.raises(EmbedspecError, match=r"for split 'dev' \(splits found: test\)"):
        load_beir(root, split="dev")
    with pytest.raises(EmbedspecError, match="does not exist"):
        load_beir(tmp_path / "nowhere")


def test_malformed_json_names_file_and_line(tmp_path):
    root = write_beir(tmp_path / "ds", corpus=[{"_id": "d1", "text": "ok"}, "", '{"_id": "d2", "text": '])
    with pytest.raises(EmbedspecError, match=r"corpus\.jsonl:3: malformed JSON"):
        load_beir(root)


@pytest.mark.parametrize(
    ("corpus", "message"),
    [
        ([{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "b"}], r"corpus\.jsonl:2: duplicate document id 'd1' \(first at line 1\)"),
        ([{"_id": "d1"}], r"corpus\.jsonl:1: missing field 'text'"),
        ([{"text": "no id"}], r"corpus\.jsonl:1: missing field '_id'"),
        ([{"_id": "d1", "text": 3}], r"corpus\.jsonl:1: field 'text' must be a string, got int"),
        (["[1, 2]"], r"corpus\.jsonl:1: expected a JSON object, got list"),
    ],
)
def test_bad_corpus_lines(tmp_path, corpus, message):
    with pytest.raises(EmbedspecError, match=message):
        load_beir(write_beir(tmp_path / "ds", corpus=corpus, qrels=["q1\td1\t1"]))


def test_unknown_ids_are_dropped_with_a_warning(tmp_path):
    qrels = ["q1\td1\t1", "q1\tnope\t1", "q9\td1\t1", "q2\td2\t1", "qX\td2\t1"]
    root = write_beir(tmp_path / "ds", qrels=qrels)
    with pytest.warns(BeirWarning) as record:
        ds = load_beir(root)
    messages = [str(w.message) for w in record]
    assert messages == [
        "test.tsv: dropped 2 judgments naming unknown query ids: line 4 ('q9'), line 6 ('qX')",
        "test.tsv: dropped 1 judgments naming unknown document ids: line 3 ('nope')",
    ]
    assert ds.warnings == messages
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}


def test_many_unknown_ids_are_counted_and_the_first_shown(tmp_path):
    qrels = ["q1\td1\t1"] + [f"q1\tghost{i}\t1" for i in range(8)]
    with pytest.warns(BeirWarning, match=r"dropped 8 judgments naming unknown document ids: line 3 \('ghost0'\), "
                                         r".*line 7 \('ghost4'\) \.\.\.$"):
        load_beir(write_beir(tmp_path / "ds", qrels=qrels))


def test_only_unknown_ids_is_an_error(tmp_path):
    root = write_beir(tmp_path / "ds", qrels=["q9\td1\t1"])
    with pytest.raises(EmbedspecError, match=r"no judgment names a known query and document: test\.tsv: dropped 1 "
                                              r"judgments naming unknown query ids: line 2 \('q9'\)"):
        load_beir(root)


def test_empty_query_text_names_the_line(tmp_path):
    queries = [{"_id": "q1", "text": "fine"}, {"_id": "q2", "text": "   "}]
    with pytest.raises(EmbedspecError, match=r"queries\.jsonl:2: query 'q2' has empty text"):
        load_beir(write_beir(tmp_path / "ds", queries=queries))


def test_bad_qrels_rows(tmp_path):
    with pytest.raises(EmbedspecError, match=r"test\.tsv:3: score 'high' is not an integer"):
        load_beir(write_beir(tmp_path / "a", qrels=["q1\td1\t1", "q2\td2\thigh"]))
    with pytest.raises(EmbedspecError, match=r"test\.tsv:2: expected 3 tab-separated columns"):
        load_beir(write_beir(tmp_path / "b", qrels=["q1 d1 1"]))


def test_empty_documents_warn(tmp_path):
    corpus = [{"_id": "d1", "text": "x"}, {"_id": "d2", "title": "", "text": ""}]
    with pytest.warns(BeirWarning, match=r"1 documents have no title and no text.*corpus\.jsonl:2 \('d2'\)"):
        load_beir(write_beir(tmp_path / "ds", corpus=corpus, qrels=["q1\td1\t1"]))


def test_pairs_loader(tmp_path):
    good = tmp_path / "pairs.csv"
    good.write_text('sentence1,sentence2,score\n"a, b",c,1.5\nd,e,0\n')
    pairs = load_pairs(good)
    assert pairs.sentences1 == ["a, b", "d"] and pairs.scores.tolist() == [1.5, 0.0]
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence1\tsentence2\tscore\na\tb\t1\nc\td\tsimilar\n")
    with pytest.raises(EmbedspecError, match=r"bad\.tsv:3: score 'similar' is not a number"):
        load_pairs(bad)
    bad.write_text("s1\ts2\tscore\na\tb\t1\n")
    with pytest.raises(EmbedspecError, match="no first-sentence column: expected one of sentence1; the header has s1, s2, score"):
        load_pairs(bad)
    bad.write_text("sentence1\tsentence2\tscore\na\tb\n")
    with pytest.raises(EmbedspecError, match=r"bad\.tsv:2: expected 3 columns"):
        load_pairs(bad)


def test_classification_loader(tmp_path):
    (tmp_path / "train.tsv").write_text("index_id\tcategory\ttext\n1\tsports\tgoal\n2\thealth\tflu\n")
    (tmp_path / "test.tsv").write_text("index_id\tcategory\ttext\n3\tsports\tmatch\n")
    train, test = load_classification(tmp_path)
    assert (train.texts, train.labels, test.labels) == (["goal", "flu"], ["sports", "health"], ["sports"])
    (tmp_path / "test.tsv").write_text("index_id\tcategory\ttext\n3\tpolitics\tvote\n")
    with pytest.raises(EmbedspecError, match="labels never seen in train.tsv: politics"):
        load_classification(tmp_path)
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(EmbedspecError, match=r"missing test\.tsv"):
        load_classification(tmp_path)


@pytest.mark.data
def test_scifact_loads_as_documented(shared_data):
    ds = load_beir(shared_data / "scifact", split="test")
    assert (len(ds.corpus), len(ds.queries), sum(len(j) for j in ds.qrels.values())) == (5183, 300, 339)
    assert ds.warnings == []
    ids, texts = ds.documents()
    assert ids[0] == "4983" and texts[0].startswith("Microstructural development of human newborn cerebral")
