"""The pluggable NER (ScrubParams.ner_model_path, vvae_pipeline/scrub/ner.py): off by default, a
clear error for a path that does not exist, and a real local spaCy pipeline's PERSON entities
scrubbed as names. No pretrained model can be downloaded here, so the pipeline is built on the
spot: spaCy's blank English with an entity ruler that labels one invented name PERSON, saved with
``to_disk`` and loaded back through Presidio's SpacyNlpEngine and SpacyRecognizer, as a real
model directory would be. A tiny random transformers token-classification model checks that wiring.
"""

from __future__ import annotations

import polars as pl
import pytest

from vvae_pipeline.params import ScrubParams
from vvae_pipeline.scrub import Scrubber, scrub_sessions
from vvae_pipeline.scrub.ner import NerModelError, model_kind, ner_recognizers

NAME = "zorbalette"  # no gazetteer, census list or surname rule knows it


def test_off_by_default():
    from assets.ingest import ScrubConfig

    assert ScrubParams().ner_model_path is None and ScrubConfig().ner_model_path is None
    assert ScrubConfig().to_params() == ScrubParams()
    assert ner_recognizers(None) == [] and ner_recognizers("") == []
    assert not Scrubber().find([f"went out with {NAME}"], "en", [None])[0]


def test_missing_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(NerModelError, match="does not exist.*ner_model_path"):
        ner_recognizers(str(missing))
    raw = pl.DataFrame({"x": [1]})  # never read: the error comes first
    with pytest.raises(NerModelError, match=str(missing)):
        scrub_sessions(raw, ScrubParams(ner_model_path=str(missing)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerModelError, match="neither a spaCy pipeline"):
        model_kind(tmp_path / "empty")


@pytest.fixture(scope="module")
def spacy_model(tmp_path_factory):
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": NAME}])
    path = tmp_path_factory.mktemp("ner") / "spacy_person"
    nlp.to_disk(path)
    return path


def test_local_spacy_model_adds_its_person_entities(spacy_model):
    assert model_kind(spacy_model) == "spacy"
    scrubber = Scrubber(ner=ner_recognizers(str(spacy_model)))
    texts = [f"went out with {NAME} last night", "nothing to see here", "told kristen about it"]
    found = scrubber.find(texts, "en", [None] * len(texts))
    assert [(f.entity, texts[0][f.start:f.end]) for f in found[0]] == [("NAME", NAME)]
    assert found[1] == [] and [texts[2][f.start:f.end] for f in found[2]] == ["kristen"]
    # The naive path too, and a placeholder in the scrubbed text.
    out, counts = scrubber.anonymize([texts[0]], [scrubber.find_one(texts[0], "en")])
    assert NAME not in out[0] and "[NAME_1]" in out[0] and counts["NAME"] == 1


@pytest.fixture(scope="module")
def transformers_model(tmp_path_factory):
    """A 1-layer BERT token classifier whose bias makes every token B-PER (random weights, small)."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    path = tmp_path_factory.mktemp("ner") / "tiny_bert_per"
    path.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "went", "out", "with", NAME]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, id2label={0: "O", 1: "B-PER"}, label2id={"O": 0, "B-PER": 1})
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0]))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_local_transformers_model_wiring(transformers_model):
    assert model_kind(transformers_model) == "transformers"
    scrubber = Scrubber(ner=ner_recognizers(str(transformers_model)))
    text = f"{NAME}"
    found = scrubber.find([text], "en", [None])[0]
    assert [(f.entity, text[f.start:f.end]) for f in found] == [("NAME", NAME)]
