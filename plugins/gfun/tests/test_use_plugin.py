"""The example third-party plugin ``embedspec-use`` (examples/plugin-use) and gfun on top of it."""

from __future__ import annotations

import csv
import importlib.metadata as md
from pathlib import Path

import numpy as np
import pytest
from embedspec.plugins import build_component, get_registry
from embedspec.testing import check_encoder

pytest.importorskip("embedspec_use", reason="install it: pip install -e examples/plugin-use --no-deps")


def read_split(shared_data: Path, lang: str, split: str) -> list[dict[str, str]]:
    path = shared_data / "sib200" / lang / f"{split}.tsv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def use_encoder():
    return get_registry().get("encoder", "use-multilingual").create({})


def test_discovered_through_its_entry_point():
    eps = {ep.name: ep for ep in md.entry_points(group="embedspec")}
    assert eps["use"].value == "embedspec_use.plugin"
    reg = get_registry().get("encoder", "use-multilingual")
    assert (reg.plugin, reg.distribution) == ("use", "embedspec-use")
    assert reg.factory.__module__ == "embedspec_use.encoder"


def test_conformance_and_unit_vectors(use_encoder):
    out = check_encoder(use_encoder, ["The cat sleeps.", "Die Katze schläft.", "Le chat dort.", "猫が寝ている。"])
    assert out.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert out[0] @ out[1] > 0.7 and out[0] @ out[2] > 0.7  # the same sentence in three languages


@pytest.mark.data
def test_english_sentence_is_nearest_its_german_translation(use_encoder, shared_data):
    en = read_split(shared_data, "eng_Latn", "test")[:60]
    de = {row["index_id"]: row["text"] for row in read_split(shared_data, "deu_Latn", "test")}
    ids = [row["index_id"] for row in en]
    E = use_encoder.encode([row["text"] for row in en])
    D = use_encoder.encode([de[i] for i in ids])
    S = E @ D.T  # (60 English, 60 German)
    assert int(np.argmax(S[0])) == 0  # the first sentence: its translation beats 59 other German sentences
    assert np.mean(np.argmax(S, axis=1) == np.arange(60)) >= 0.9


@pytest.mark.slow
@pytest.mark.data
def test_gfun_with_use_view_serves_an_unseen_language(shared_data):
    from embedspec_gfun.encoder import UnseenLanguageWarning

    train, labels = [], []
    for lang in ("eng_Latn", "deu_Latn"):
        for row in read_split(shared_data, lang, "train")[:250]:
            train.append({"text": row["text"], "lang": lang})
            labels.append(row["category"])
    test = read_split(shared_data, "spa_Latn", "test")[:100]
    enc = build_component("encoder", {"type": "gfun", "embeddings": {"type": "use-multilingual"}}, require_state=False)
    enc.fit(train, labels)
    with pytest.warns(UnseenLanguageWarning, match="'spa_Latn'"):
        pred = enc.predict([{"text": r["text"], "lang": "spa_Latn"} for r in test])
    accuracy = np.mean([p == r["category"] for p, r in zip(pred, test)])
    assert accuracy >= 0.6, accuracy  # 7 topics: chance is ~0.14
