"""Pattern recognizers for structured PII in zh and en chat text, as Presidio recognizers.

Every pattern is written so that it never crosses a line break or the private-use separator
``SEP`` (U+E000) that the fast path puts between utterances: character classes are explicit and
no pattern uses ``.`` or ``\\s`` across a separator. Validators (Luhn, the CN resident-ID checksum,
``ipaddress``) turn look-alikes (order numbers, versions) into non-matches.
"""

from __future__ import annotations

import ipaddress
import re

from presidio_analyzer import EntityRecognizer, RecognizerResult

from vvae_pipeline.scrub.addresses import ADDRESS_RULES
from vvae_pipeline.scrub.rule import Rule
from vvae_pipeline.scrub.text import CJK

SEP = "\ue000"  # joins utterances in one analyzer call; no pattern below can match it


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_id_ok(s: str) -> bool:
    """GB 11643-1999: weighted sum of the first 17 digits mod 11 selects the check character."""
    s = s.upper()
    if len(s) != 18 or not s[:17].isdigit():
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS)) % 11] == s[17]


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# Issuer prefixes of payment cards (ISO/IEC 7812): Mastercard 2221-2720 and 51-55, Amex/Diners/
# JCB 3x, Visa 4, UnionPay 62/81, Discover/Maestro 6x. Luhn alone passes 1 in 10 order numbers.
_CARD_PREFIX = re.compile(r"2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|[3-6]|81")


def bank_card_ok(s: str) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and luhn_ok(d) and len(set(d)) > 1 and bool(_CARD_PREFIX.match(d))


def phone_digits_ok(s: str) -> bool:
    return 7 <= len(_digits(s)) <= 15


def ip_ok(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


# Boundaries are ASCII classes, never ``\w`` or ``\b``: in Python ``re`` CJK characters are word
# characters, so ``(?<!\w)`` refused every value glued to Chinese text ("邮箱是a@b.com").
_W = "A-Za-z0-9_"
_URL_CHARS = r"A-Za-z0-9\-._~:/?#@!$&*+,;=%"
_URL_BODY = "[" + _URL_CHARS + "]*[A-Za-z0-9\\-_~/#=&%+]"  # ASCII only: stops at CJK and full-width punctuation
TLDS = "com|net|org|cn|io|me|co|cc|info|xyz|top|app|dev|edu|gov|uk|de|fr|tv|ai|ly|gg|hk|tw|jp|us|ca|au|eu"

RULES: dict[str, list[Rule]] = {
    "EMAIL": [
        Rule(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
             r"(?![A-Za-z0-9-])", 1.0),
        # Spelled-out at: "jo.li(at)qq.com", "jo [at] mail [dot] com".
        Rule(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*[ ]?[(\[](?:at|AT)[)\]][ ]?[A-Za-z0-9-]+"
             r"(?:[ ]?(?:\.|[(\[](?:dot|DOT)[)\]])[ ]?[A-Za-z0-9-]+)+", 0.9),
    ],
    "CN_ID": [Rule(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
                   r"(?![0-9A-Za-z])", 1.0, validate=cn_id_ok)],
    "BANK_CARD": [Rule(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", 0.95, validate=bank_card_ok)],
    "PHONE": [
        # CN mobile 1[3-9]x xxxx xxxx, optionally +86 / 0086.
        Rule(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)", 0.85),
        # CN landline: area code 0xx(x) then 7-8 digits, optionally +86 without the 0.
        Rule(r"(?<![\d+])(?:\(0\d{2,3}\)[ -]?|0\d{2,3}[ -]?|\+86[ -]?\d{2,3}[ -]?)\d{7,8}(?!\d)", 0.8),
        # US / NANP: (415) 555-0134, 415-555-0134, +1 415 555 0134.
        Rule(rf"(?<![{_W}+])(?:\+?1[ .-]?)?(?:\(\d{{3}}\)[ ]?|\d{{3}}[ .-])\d{{3}}[ .-]\d{{4}}(?!\d)", 0.85),
        # International: +CC then 2-5 groups, 7-15 digits in all (E.164).
        Rule(rf"(?<![{_W}+])\+\d{{1,3}}(?:[ .-]?(?:\(\d{{1,5}}\)|\d{{1,5}})){{2,5}}(?!\d)", 0.8,
             validate=phone_digits_ok),
    ],
    "PASSPORT": [
        # CN e-passports: E + 8 digits or E + letter + 7 digits; older G/D/S/P/H + 8 digits.
        Rule(r"(?<![A-Za-z0-9])(?:[EGDSPH]\d{8}|E[A-HJ-NP-Z]\d{7})(?![A-Za-z0-9])", 0.85),
        # Any country's number right after the word passport / 护照 (US: 9 digits).
        Rule(r"(?:passport|护照)(?:[ ]?(?:no\.?|number|num|#|号码|号))?[ ]*(?:is|是|:|：)?[ ]*([A-Z]{0,2}\d{6,9})"
             r"(?![A-Za-z0-9])", 0.85, group=1, flags=re.IGNORECASE),
    ],
    "URL": [
        Rule(r"(?:https?://|www\.)" + _URL_BODY, 0.9, flags=re.IGNORECASE),
        Rule(r"(?<![A-Za-z0-9_@.-])(?:[a-z0-9-]+\.)+(?:" + TLDS + r")(?:\.[a-z]{2})?(?:/" + _URL_BODY + r")?"
             r"(?![A-Za-z0-9_@-])", 0.8, flags=re.IGNORECASE),
    ],
    "IP": [
        Rule(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)", 0.95, validate=ip_ok),
        Rule(rf"(?<![{_W}:])[0-9A-Fa-f]{{0,4}}(?::[0-9A-Fa-f]{{0,4}}){{2,7}}(?![{_W}:])", 0.9,
             validate=lambda s: ":" in s and s.count(":") >= 2 and ip_ok(s)),
    ],
    "HANDLE": [
        # ASCII handles end where ASCII ends ("@emily_42你看" -> "@emily_42").
        Rule(rf"(?<![{_W}.@])@[A-Za-z0-9_](?:[A-Za-z0-9_.-]{{0,28}}[A-Za-z0-9_])?(?![A-Za-z0-9_@])", 0.8),
        # Weibo-style handles that start with CJK run to the next space or punctuation ("@小红花123 你看";
        # glued to more CJK text, the whole run goes: its end cannot be known).
        Rule(r"(?<![A-Za-z0-9_.@])@[" + CJK + r"][" + CJK + r"A-Za-z0-9_-]{0,29}(?![" + CJK + r"A-Za-z0-9_-])", 0.8),
        Rule(r"(?<![A-Za-z])(?:微信|wechat|weixin|vx|v信|wx)(?:号码|号|id|账号)?[ ]*(?:是|is|:|：|=)?[ ]*"
             r"([A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-])", 0.85, group=1, flags=re.IGNORECASE),
        Rule(r"(?<![A-Za-z])(?:QQ|扣扣)(?:号码|号)?[ ]*(?:是|is|:|：)?[ ]*([1-9]\d{4,10})(?!\d)", 0.85, group=1,
             flags=re.IGNORECASE),
        Rule(r"(?<![A-Za-z])(?:instagram|insta|ig|twitter|tiktok|snapchat|snap|telegram|discord|抖音|小红书|微博|weibo)"
             r"(?:号|账号| id| handle| username)?[ ]*(?:是|:|：)[ ]*@?([A-Za-z0-9_.]{3,30})(?<!\.)", 0.8, group=1,
             flags=re.IGNORECASE),
    ],
    "US_SSN": [
        # 3-2-4 with one kind of separator, the SSA's never-issued areas excluded (000, 666, 9xx).
        Rule(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])", 0.95),
        # Nine digits right after SSN / social security (number).
        Rule(r"(?:ssn|social security(?: number| no\.?)?)[ ]*(?:is|#|:|：|是)?[ ]*"
             r"((?!000|666|9\d\d)\d{3}[- ]?\d{2}[- ]?\d{4})(?!\d)", 0.95, group=1, flags=re.IGNORECASE),
    ],
    "ADDRESS": ADDRESS_RULES,
}


class RegexRecognizer(EntityRecognizer):
    """One entity type, several regex rules, optional validators; a real Presidio recognizer."""

    def __init__(self, entity: str, rules: list[Rule], language: str, name: str | None = None):
        self.rules = [(re.compile(r.pattern, r.flags), r) for r in rules]
        self.gates = {r.gate: re.compile(r.gate) for r in rules if r.gate}
        super().__init__(supported_entities=[entity], name=name or f"vvae_{entity.lower()}_{language}",
                         supported_language=language)

    def load(self) -> None:  # patterns are compiled in __init__
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        entity = self.supported_entities[0]
        if entities and entity not in entities:
            return []
        out = []
        segments = {g: _segments(text, rx) for g, rx in self.gates.items()}
        for rx, rule in self.rules:
            spans = segments[rule.gate] if rule.gate else [(0, len(text))]
            for m in (m for s, e in spans for m in rx.finditer(text, s, e)):
                start, end = m.span(rule.group)
                if start < 0 or end <= start:
                    continue
                if rule.validate and not rule.validate(text[start:end]):
                    continue
                out.append(RecognizerResult(entity, start, end, rule.score))
        return out


GATE_WINDOW = 60  # characters before a gate match where a gated rule's match may start


def _segments(text: str, gate: re.Pattern) -> list[tuple[int, int]]:
    """Windows of ``text`` around the matches of ``gate``: from GATE_WINDOW characters before the
    match (not before its utterance's start) to the end of its utterance (SEP-separated)."""
    out, last = [], -1
    for m in gate.finditer(text):
        if m.start() < last:
            continue
        s, e = text.rfind(SEP, 0, m.start()) + 1, text.find(SEP, m.end())
        last = len(text) if e < 0 else e
        out.append((max(s, m.start() - GATE_WINDOW), last))
    return out


def structured_recognizers(language: str) -> list[RegexRecognizer]:
    return [RegexRecognizer(entity, rules, language) for entity, rules in RULES.items()]
