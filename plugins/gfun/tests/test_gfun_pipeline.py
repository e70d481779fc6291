"""gfun inside a spec-built pipeline: state loaded by build(), cross-lingual search, located errors."""

from __future__ import annotations

import pytest
from embedspec.errors import SpecError
from embedspec.plugins import build_component
from gfun_synthetic import TOPICS, make_corpus


def test_built_pipeline_loads_state_and_searches_across_languages(bilingual_data, tmp_path):
    from embedspec.pipeline import build

    gfun = build_component("encoder", {"type": "gfun", "wce": True}, require_state=False).fit(*bilingual_data["train"])
    gfun.save(tmp_path / "gfun")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\n"
        "encoder:\n"
        "  type: gfun\n"
        "  wce: true\n"
        f"  state: {tmp_path / 'gfun'}\n"
        "index:\n"
        "  type: exact\n"
    )
    pipe = build(spec)
    german, topics = make_corpus("de", 30, seed=11)
    pipe.add(german, payloads=[{"topic": t} for t in topics])
    english, gold = make_corpus("en", 12, seed=12)
    hits = pipe.search(english, k=5)
    # English queries find German documents of their own topic
    share = sum(h.payload["topic"] == g for row, g in zip(hits, gold) for h in row) / (5 * len(gold))
    assert share >= 0.9
    assert pipe.to_spec()["encoder"] == {"type": "gfun", "wce": True, "state": str(tmp_path / "gfun")}
    assert sorted(TOPICS) == gfun.classes_


def test_untrained_gfun_in_a_spec_is_a_located_error():
    from embedspec.pipeline import build

    with pytest.raises(SpecError, match=r"encoder\.state.*gfun must be trained first"):
        build({"version": 1, "encoder": {"type": "gfun"}, "index": {"type": "exact"}})


def test_bad_embeddings_block_is_reported_at_its_location():
    from embedspec.spec import load_spec

    with pytest.raises(SpecError, match=r"encoder\.embeddings.*unknown encoder type 'no-such-encoder'"):
        load_spec({"version": 1, "encoder": {"type": "gfun", "embeddings": {"type": "no-such-encoder"}},
                   "index": {"type": "exact"}})
