"""The residual detector behind the ``no_pii`` check, built differently from the scrubber.

It shares no pattern and no prefilter with the scrubber's own recognizers:
- text view: NFKC normalisation (full-width forms become ASCII), placeholders removed, and a
  space put wherever CJK meets non-CJK, so the ``\\b`` of stock patterns holds in Chinese text;
- detectors: Presidio's stock EmailRecognizer, IpRecognizer, CreditCardRecognizer,
  IbanRecognizer, UsSsnRecognizer (medium patterns), NhsRecognizer and UkNinoRecognizer;
  ``phonenumbers`` with its strictest useful leniency (VALID) over the session's regions; broad
  e-mail / URL / IPv4 patterns; the CN resident-ID checksum; each session's display names.

What it does not prove: names of people who are not participants, street addresses and
free-form handles have no independent detector here, so their absence rests on the scrubber.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections import Counter
from functools import lru_cache

from vvae_pipeline.scrub.text import CJK

_PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")
_SCRIPT_EDGE = re.compile(rf"(?<=[{CJK}])(?=[^{CJK}\s])|(?<=[^{CJK}\s])(?=[{CJK}])")
BROAD_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
BROAD_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s]+")
BROAD_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
STOCK = ("EmailRecognizer", "IpRecognizer", "CreditCardRecognizer", "IbanRecognizer", "UsSsnRecognizer",
         "NhsRecognizer", "UkNinoRecognizer")
# Score floors: stock SSN patterns below 0.5 are bare digit runs; stock IP/email/IBAN/NHS/cards are
# validated (checksum or parser) and reported at 0.3-1.0.
MIN_SCORE = {"US_SSN": 0.5}
REGIONS = {"zh": ("CN", "HK", "TW", "US", "GB"), "en": ("US", "GB", "CA", "AU", "IN")}
KINDS = {"EMAIL_ADDRESS": "EMAIL", "IP_ADDRESS": "IP", "CREDIT_CARD": "BANK_CARD", "IBAN_CODE": "IBAN",
         "US_SSN": "US_SSN", "UK_NHS": "UK_NHS", "UK_NINO": "UK_NINO"}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", _PLACEHOLDER.sub(" ", text))
    return _SCRIPT_EDGE.sub(" ", text)


@lru_cache(maxsize=2)
def _stock(language: str):
    from presidio_analyzer import predefined_recognizers as pr

    return [getattr(pr, cls)(supported_language=language) for cls in STOCK]


def _cn_id_ok(s: str) -> bool:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * k for c, k in zip(s[:17], w)) % 11] == s[17].upper()


def _ip_ok(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


_TRIGGER = re.compile(r"\d|@|://|(?i:www\.)")
CHUNK = 20_000  # characters per detector call; texts are joined by blank lines no pattern crosses


def detect_many(texts: list[str], language: str, names: list[tuple[str, ...]] | None = None) -> Counter:
    """Entity types found in scrubbed texts, counted per distinct span; ``names[i]`` are text i's
    participants' display names."""
    total: Counter = Counter()
    views = [normalise(t) for t in texts]
    todo = [v for v in views if _TRIGGER.search(v)]
    chunk: list[str] = []
    size = 0
    for v in todo + [None]:
        if v is None or size + len(v) > CHUNK:
            if chunk:
                total += _structured("\n\n".join(chunk), language)
            chunk, size = [], 0
        if v is not None:
            chunk.append(v)
            size += len(v) + 2
    for v, own in zip(views, names or []):
        if own:
            total += _names(v, own)
    return total


def detect(text: str, language: str, names: tuple[str, ...] = ()) -> Counter:
    """``detect_many`` for one text."""
    return detect_many([text], language, [names])


def _structured(view: str, language: str) -> Counter:
    found: dict[tuple[str, int, int], None] = {}
    for rec in _stock(language):
        for r in rec.analyze(view, rec.supported_entities, None):
            kind = KINDS.get(r.entity_type)
            if kind and r.score >= MIN_SCORE.get(kind, 0.3):
                found[(kind, r.start, r.end)] = None
    for rx, kind, ok in ((BROAD_EMAIL, "EMAIL", None), (BROAD_URL, "URL", None), (BROAD_IPV4, "IP", _ip_ok),
                         (CN_ID, "CN_ID", _cn_id_ok)):
        for m in rx.finditer(view):
            if ok is None or ok(m.group()):
                found[(kind, m.start(), m.end())] = None
    if sum(c.isdigit() for c in view) >= 7:
        import phonenumbers
        from phonenumbers import Leniency, PhoneNumberMatcher

        for region in REGIONS.get(language, REGIONS["en"]):
            for m in PhoneNumberMatcher(view, region, leniency=Leniency.VALID):
                if sum(c.isdigit() for c in m.raw_string) >= 10 or phonenumbers.is_valid_number(m.number) \
                        and re.search(r"[ ()+\-]", m.raw_string):
                    found[("PHONE", m.start, m.end)] = None
    return Counter(kind for kind, _, _ in found)


def _names(view: str, names: tuple[str, ...]) -> Counter:
    low = view.casefold()
    parts = {p.strip().casefold() for n in names for p in (n, *n.split())}
    return Counter({"NAME": sum(1 for p in parts if len(p) >= 2 and _name_in(p, low))})


def _name_in(name: str, low: str) -> bool:
    if re.search(f"[{CJK}]", name):
        return name in low
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", low) is not None
