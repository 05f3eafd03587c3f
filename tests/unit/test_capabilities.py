"""The capability rule: a dimension is answered only where the encoder's precision beats the
majority class on every labelled real corpus; grounded dimensions without labels stay on, others off."""

from __future__ import annotations

from vvae_pipeline.encode import capabilities as cap
from vvae_pipeline.encode.quality import dimension_report


def _corpus(**dims):
    return {"dimensions": {d: dimension_report(pred, [frozenset(t) if t else None for t in true])
                           for d, (pred, true) in dims.items()}}


# A collapsed encoder: "formal" everywhere, while the labels are mostly calm/casual.
COLLAPSED = (["formal"] * 40, [("calm", "casual")] * 30 + [("formal",)] * 10)
# A reader right on all 38 examples it answers (Wilson lower bound 0.91), against the majority value
# "golf", true on 30 of 40 (precision 0.75).
GOOD = (["chess"] * 10 + ["golf"] * 28 + [None] * 2, [("chess",)] * 10 + [("golf",)] * 30)


def test_collapse_to_one_value_does_not_beat_the_majority_class():
    entry = cap.decide({"cped": _corpus(tone=COLLAPSED, hobby=GOOD)})
    assert entry["dimensions"]["tone"]["answered"] is False
    assert entry["dimensions"]["tone"]["reason"] == cap.NOT_BETTER
    assert entry["dimensions"]["hobby"]["answered"] is True
    figures = entry["dimensions"]["hobby"]["corpora"]["cped"]
    assert figures["answer_rate"] == 0.95 and figures["precision_ci"][0] > figures["majority_precision"]


def test_every_labelled_corpus_must_agree():
    entry = cap.decide({"a": _corpus(hobby=GOOD), "b": _corpus(hobby=COLLAPSED)})
    assert entry["dimensions"]["hobby"]["answered"] is False


def test_never_answering_is_not_better_and_unlabelled_dimensions_follow_the_grounding_rule():
    silent = ([None] * 40, GOOD[1])
    entry = cap.decide({"a": _corpus(hobby=silent)})
    assert entry["dimensions"]["hobby"]["answered"] is False
    assert entry["dimensions"]["catchphrase"] == {"answered": True, "reason": cap.GROUNDED_RULE, "corpora": {}}
    assert entry["dimensions"]["relationship"]["answered"] is False
    assert entry["dimensions"]["relationship"]["reason"] == cap.UNMEASURED


def test_written_table_gates_only_its_engine_and_renders(tmp_path):
    path = tmp_path / "caps.json"
    table = cap.write(cap.decide({"cped": _corpus(tone=COLLAPSED, hobby=GOOD)}), "transformers", "tiny", path=path)
    assert "tone" in cap.unanswered("transformers", "tiny", table)
    assert "hobby" not in cap.unanswered("transformers", "tiny", table)
    assert cap.unanswered("openai", "big-model", table) == frozenset()  # unmeasured engines answer all
    md = cap.markdown(table)
    assert "| transformers:tiny | tone | no (not_better_than_majority) | cped | 40 | 100% |" in md
    assert "| cped | 40 | 95% | 100% [91%, 100%] | golf (75%) | 95% |" in md  # hobby: precision with fmt_ci
