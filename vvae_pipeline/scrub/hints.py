"""The prefilter's cheap necessary conditions: an utterance none of them fires on cannot hold a
finding of any recognizer, so the engine skips it (about 80% of chat utterances).

Hints run on ``text.fold_fullwidth(text)``, the same view the recognizers see:
- digits: phones (phonenumbers and the rules), IDs, cards, SSN/NHS/NINO/IBAN, IPv4, passports,
  en/EU addresses and postcodes; ``@``: e-mails, handles; ``:``: URLs, IPv6, "ig: name";
- zh address characters (addresses.ZH_ADDRESS_HINT), www. / TLDs (URLs), WeChat keywords
  (letter-only WeChat ids), "(at)" / "[at]" (spelled-out e-mails);
- identifiers.py (issue #26): ``_`` (handles), a lower-case label after a dot (bare domains),
  digits in Chinese numerals or English words (spelled phones), ``xxxx.xxxx.`` (MAC), platform
  names, birth words, spelled "dot"/"艾特" (identifiers.IDENTIFIER_HINT / _WORDS); plates, IDs,
  IMEI, licence and account numbers all need a digit;
- names: gazetteer given names and titles, name and relation cues (names.py), and a surname
  followed by a CJK character (zh_names.hint).
Three cheap tests instead of one case-insensitive alternation in the Python path (5x faster,
measured): a character class, substring tests and a TLD regex on the lower-cased copy; the
vectorised path (``vector_hint``) is one Rust regex for polars over every utterance.
"""

from __future__ import annotations

import re

from vvae_pipeline.scrub.addresses import ZH_ADDRESS_HINT
from vvae_pipeline.scrub.identifiers import IDENTIFIER_HINT, IDENTIFIER_HINT_WORDS
from vvae_pipeline.scrub.recognizers import TLDS

STRUCTURED_HINT_CHARS = re.compile(r"[\d@:：_]|" + ZH_ADDRESS_HINT + "|" + IDENTIFIER_HINT)
STRUCTURED_HINT_WORDS = ("www.", "wechat", "weixin", "vx", "v信", "wx", "微信", "(at)", "[at]", *IDENTIFIER_HINT_WORDS)
STRUCTURED_HINT_TLD = re.compile(r"\.(?:" + TLDS + ")")


def structured_hint(text: str, low: str) -> bool:
    """True whenever any structured recognizer could match ``text`` (``low`` = text.lower())."""
    return bool(STRUCTURED_HINT_CHARS.search(text) or any(w in low for w in STRUCTURED_HINT_WORDS)
                or ("." in low and STRUCTURED_HINT_TLD.search(low)))


def vector_hint(gazetteer, zh_hint: re.Pattern) -> str:
    """``structured_hint`` or ``gazetteer.may_match`` or ``zh_hint`` as one Rust-regex pattern for
    polars: a given name or title as a plain substring is a superset of the token test."""
    words = sorted(gazetteer.hint_words, key=len, reverse=True)
    return "|".join([
        STRUCTURED_HINT_CHARS.pattern, "(?i:" + "|".join(re.escape(w) for w in STRUCTURED_HINT_WORDS) + ")",
        "(?i:\\.(?:" + TLDS + "))", "(?i:" + gazetteer._EN_CUE_HINT.pattern + ")", "(?:" + "|".join(words) + ")",
        gazetteer.zh_hint.pattern, zh_hint.pattern,
    ])
