"""Presidio's predefined recognizers where one exists (US SSN, UK NHS and NINO, IBAN, credit
cards), run on ``text.ascii_view`` so their ``\\b`` boundaries also hold next to CJK text.

Context words are not used (the analyzer runs without an NLP engine), so each recognizer keeps
its results from ``min_score`` up: the stock SSN patterns below 0.5 are bare 9-digit runs
("very weak"), which the SSN rules in recognizers.py only take after the word SSN.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult

from vvae_pipeline.scrub.text import ascii_view

# (Presidio class, Presidio entity, our entity, min score)
STOCK = (
    ("UsSsnRecognizer", "US_SSN", "US_SSN", 0.5),
    ("NhsRecognizer", "UK_NHS", "UK_NHS", 0.5),
    ("UkNinoRecognizer", "UK_NINO", "UK_NINO", 0.5),
    ("IbanRecognizer", "IBAN_CODE", "IBAN", 0.5),
    ("CreditCardRecognizer", "CREDIT_CARD", "BANK_CARD", 0.3),
)


class StockRecognizer(EntityRecognizer):
    """One Presidio predefined recognizer behind the ASCII view, its entity renamed."""

    def __init__(self, inner: EntityRecognizer, theirs: str, ours: str, min_score: float, language: str):
        self.inner, self.theirs, self.ours, self.min_score = inner, theirs, ours, min_score
        super().__init__(supported_entities=[ours], name=f"stock_{inner.name}_{language}",
                         supported_language=language)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and self.ours not in entities:
            return []
        view = ascii_view(text)
        # Capped below the rules (0.85+): where a phone number also passes the NHS checksum, it stays a PHONE.
        return [RecognizerResult(self.ours, r.start, r.end, min(r.score, 0.8))
                for r in self.inner.analyze(view, [self.theirs], None) if r.score >= self.min_score]


def stock_recognizers(language: str) -> list[StockRecognizer]:
    from presidio_analyzer import predefined_recognizers as pr

    return [StockRecognizer(getattr(pr, cls)(supported_language=language), theirs, ours, score, language)
            for cls, theirs, ours, score in STOCK]
