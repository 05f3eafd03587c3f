"""Presidio's predefined recognizers where one exists (US SSN, UK NHS and NINO, IBAN, credit cards, UK plates
and driving licences, MAC addresses, URLs, ES/IT/FI/SE national IDs), run on ``text.ascii_view`` so their
``\\b`` boundaries also hold next to CJK text.

Context words are not used (the analyzer runs without an NLP engine), so each recognizer keeps
its results from ``min_score`` up: the stock SSN patterns below 0.5 are bare 9-digit runs
("very weak"), which the SSN rules in recognizers.py only take after the word SSN.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult

from vvae_pipeline.scrub.text import ascii_view

# (Presidio class, Presidio entity, our entity, min score)
STOCK = (
    ("UsSsnRecognizer", "US_SSN", "US_SSN", 0.5),
    ("NhsRecognizer", "UK_NHS", "UK_NHS", 0.5),
    ("UkNinoRecognizer", "UK_NINO", "UK_NINO", 0.5),
    ("IbanRecognizer", "IBAN_CODE", "IBAN", 0.5),
    ("CreditCardRecognizer", "CREDIT_CARD", "BANK_CARD", 0.3),
    # Issue #26's identifier classes (docs/pii_coverage.md). UK plates: 1.0 for the current
    # "AB12 CDE" format, 0.2 for older ones (those go by identifiers.py's plate-word rule).
    ("UkVehicleRegistrationRecognizer", "UK_VEHICLE_REGISTRATION", "VEHICLE", 0.5),
    ("MacAddressRecognizer", "MAC_ADDRESS", "DEVICE_ID", 0.5),
    # URLs with a scheme (0.6); its bare-domain pattern (0.5) cuts "example.shop" to "example.sh"
    # and takes "file.py": bare domains go by identifiers.py's public-suffix rule.
    ("UrlRecognizer", "URL", "URL", 0.6),
    ("UkDrivingLicenceRecognizer", "UK_DRIVING_LICENCE", "LICENCE", 0.5),
    ("EsNifRecognizer", "ES_NIF", "NATIONAL_ID", 0.5),
    ("EsNieRecognizer", "ES_NIE", "NATIONAL_ID", 0.5),
    ("ItFiscalCodeRecognizer", "IT_FISCAL_CODE", "NATIONAL_ID", 0.5),
    ("FiPersonalIdentityCodeRecognizer", "FI_PERSONAL_IDENTITY_CODE", "NATIONAL_ID", 0.5),
    ("SePersonnummerRecognizer", "SE_PERSONNUMMER", "NATIONAL_ID", 0.5),
    # Advertising / device IDs (IDFA, GAID) are UUIDs; wallet addresses (checksum-validated) are accounts.
    ("UuidRecognizer", "UUID", "DEVICE_ID", 0.5),
    ("CryptoRecognizer", "CRYPTO", "ACCOUNT", 0.5),
)


# A regex every match of the recognizer contains (read off its patterns, case-insensitive as they
# are): it then runs only on the ASCII runs of the view that hold one, not on the whole ~50k-character
# chunk (each of these took 6-30 ms per chunk of demo chat, measured here, against ~1 ms so).
NEED = {
    "UkVehicleRegistrationRecognizer": r"[A-Za-z]{2}\d{2}|[A-Za-z]\d{1,3}[- ]?[A-Za-z]{3}|[A-Za-z]{3}[- ]?\d",
    "MacAddressRecognizer": r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.",
    "UrlRecognizer": r"://",
    "UkDrivingLicenceRecognizer": r"\d{6}",
    "EsNifRecognizer": r"\d{7}",
    "EsNieRecognizer": r"\d{7}",
    "ItFiscalCodeRecognizer": r"[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z]",
    "FiPersonalIdentityCodeRecognizer": r"\d{6}[-+A-Za-z]\d{3}",
    "SePersonnummerRecognizer": r"\d{6}",
    "UuidRecognizer": r"[0-9A-Fa-f]{8}-",
    "CryptoRecognizer": r"[A-Za-z0-9]{26}",
}


# Characters a match may not begin or end with (the URL recognizer's path takes any non-space, and
# its pattern can take a quote before the scheme: '"https://b23.tv/xYz12Ab"' matched from the quote).
TRIM = {"UrlRecognizer": ".,;:!?*'\"`~^|\\[]{}()<>$@"}


class StockRecognizer(EntityRecognizer):
    """One Presidio predefined recognizer behind the ASCII view, its entity renamed."""

    def __init__(self, inner: EntityRecognizer, theirs: str, ours: str, min_score: float, language: str):
        self.inner, self.theirs, self.ours, self.min_score = inner, theirs, ours, min_score
        need = NEED.get(type(inner).__name__)
        self.trim = TRIM.get(type(inner).__name__, "")
        self.need = re.compile(need) if need else None
        super().__init__(supported_entities=[ours], name=f"stock_{inner.name}_{language}",
                         supported_language=language)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and self.ours not in entities:
            return []
        view = _view(text)
        # Capped below the rules (0.85+): where a phone number also passes the NHS checksum, it stays a PHONE.
        # A match ends where the ASCII text ends (the URL recognizer's path takes any non-space, NUL too).
        out = []
        for base, part in self._parts(view):
            for r in self.inner.analyze(part, [self.theirs], None):
                start, end = r.start, part.find("\x00", r.start, r.end)
                end = r.end if end < 0 else end
                while self.trim and end > start and part[end - 1] in self.trim:
                    end -= 1  # markup and sentence punctuation after a URL ("…/xYz12Ab**", "…/a).")
                while self.trim and end > start and part[start] in self.trim:
                    start += 1  # and quotes or brackets before it
                if r.score >= self.min_score and end > start:
                    out.append(RecognizerResult(self.ours, base + start, base + end, min(r.score, 0.8)))
        return out

    def _parts(self, view: str):
        """(offset, text) to analyze: the whole view, or with a NEED regex only the NUL-delimited
        ASCII runs that hold a match of it (no stock pattern matches across a NUL)."""
        if self.need is None:
            yield 0, view
            return
        last = -1
        for m in self.need.finditer(view):
            if m.start() < last:
                continue
            s, e = view.rfind("\x00", 0, m.start()) + 1, view.find("\x00", m.end())
            last = len(view) if e < 0 else e
            yield s, view[s:last]


_LAST_VIEW: list = [None, ""]


def _view(text: str) -> str:
    """``ascii_view(text)``, kept for the last text: all stock recognizers of a chunk read the same
    view (16 of them recomputed it per ~50k-character chunk, ~6% of analyzer time, measured)."""
    if _LAST_VIEW[0] is not text:
        _LAST_VIEW[:] = [text, ascii_view(text)]
    return _LAST_VIEW[1]


def stock_recognizers(language: str) -> list[StockRecognizer]:
    from presidio_analyzer import predefined_recognizers as pr

    return [StockRecognizer(getattr(pr, cls)(supported_language=language), theirs, ours, score, language)
            for cls, theirs, ours, score in STOCK]
