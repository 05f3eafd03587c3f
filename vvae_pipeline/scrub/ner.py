"""A local NER model for person names: the production recommendation for names (docs/production.md).

``ScrubParams.ner_model_path`` (off by default: no model can be downloaded on the build machines)
names a directory on local disk:

- a spaCy pipeline (``config.cfg`` + ``meta.json``, e.g. ``en_core_web_trf`` or ``zh_core_web_trf``
  unpacked, or one made with ``nlp.to_disk``): Presidio's ``SpacyNlpEngine`` runs it and Presidio's
  ``SpacyRecognizer`` reads its PERSON entities;
- a transformers token-classification model (``config.json`` with PER/PERSON labels, e.g. a
  multilingual BERT NER fine-tune): a transformers ``pipeline`` with simple aggregation, its person
  entities returned as Presidio results (Presidio's own ``TransformersNlpEngine`` needs the
  ``spacy-huggingface-pipelines`` package and a spaCy model besides; this needs neither).

Either recognizer emits PERSON, which the engine maps to NAME (engine.NER_PERSON_TYPES). With a
NER plugged in the prefilter is off (the model's triggers are unknown), so every utterance is
analysed: expect the model's own throughput, not bench_scrub's.
"""

from __future__ import annotations

from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult

PERSON_LABELS = {"PER", "PERSON", "B-PER", "I-PER", "B-PERSON", "I-PERSON", "PERSON_NAME"}


class NerModelError(ValueError):
    """The configured NER model path is missing or is no model this module can load."""


def model_kind(path: str | Path) -> str:
    """'spacy' or 'transformers', from the files in ``path``; NerModelError when neither."""
    p = Path(path)
    if not p.exists():
        raise NerModelError(f"scrub NER model path {str(p)!r} does not exist (set ScrubParams.ner_model_path / "
                            f"the scrubbed_sessions config ner_model_path to a local spaCy or transformers model "
                            f"directory, or leave it unset)")
    if (p / "config.cfg").exists() and (p / "meta.json").exists():
        return "spacy"
    if (p / "config.json").exists():
        return "transformers"
    raise NerModelError(f"scrub NER model path {str(p)!r} holds neither a spaCy pipeline (config.cfg + meta.json) "
                        f"nor a transformers model (config.json)")


class SpacyPersonRecognizer(EntityRecognizer):
    """Presidio's SpacyRecognizer over Presidio's SpacyNlpEngine with a local pipeline."""

    def __init__(self, path: str, language: str):
        self.path = path
        super().__init__(supported_entities=["PERSON"], name=f"vvae_spacy_ner_{language}", supported_language=language)

    def load(self) -> None:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        self.engine = SpacyNlpEngine(models=[{"lang_code": self.supported_language, "model_name": self.path}])
        self.engine.load()
        self.inner = SpacyRecognizer(supported_language=self.supported_language, supported_entities=["PERSON"])

    def analyze(self, text, entities, nlp_artifacts=None):
        artifacts = self.engine.process_text(text, self.supported_language)
        # Fresh results: the inner recognizer's metadata names a recognizer the analyzer's registry
        # does not hold, and Presidio then drops the results by its per-recognizer thresholds.
        return [
            RecognizerResult("PERSON", r.start, r.end, r.score) for r in self.inner.analyze(text, ["PERSON"], artifacts)
        ]


class TransformersPersonRecognizer(EntityRecognizer):
    """A transformers token-classification pipeline (simple aggregation): person entities only."""

    def __init__(self, path: str, language: str, min_score: float = 0.5):
        self.path, self.min_score = path, min_score
        super().__init__(supported_entities=["PERSON"], name=f"vvae_transformers_ner_{language}",
                         supported_language=language)

    def load(self) -> None:
        from transformers import pipeline

        self.pipe = pipeline("token-classification", model=self.path, tokenizer=self.path,
                             aggregation_strategy="simple", device="cpu")

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for ent in self.pipe(text):
            label = str(ent.get("entity_group", ent.get("entity", ""))).upper()
            if label in PERSON_LABELS and ent["score"] >= self.min_score and ent["end"] > ent["start"]:
                out.append(RecognizerResult("PERSON", int(ent["start"]), int(ent["end"]), float(ent["score"])))
        return out


def ner_recognizers(path: str | None, languages=("en", "zh")) -> list[EntityRecognizer]:
    """The recognizers for ``ScrubParams.ner_model_path``: none when unset, one per language when
    set (one model serves both; a multilingual model is the production choice)."""
    if not path:
        return []
    kind = model_kind(path)
    cls = SpacyPersonRecognizer if kind == "spacy" else TransformersPersonRecognizer
    return [cls(str(path), lang) for lang in languages]
