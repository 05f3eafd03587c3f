"""The residual detector behind the ``no_pii`` check, built differently from the scrubber.

It shares no pattern and no prefilter with the scrubber's own recognizers:
- text view: NFKC normalisation (full-width forms become ASCII), placeholders removed, and a
  space put wherever CJK meets non-CJK, so the ``\\b`` of stock patterns holds in Chinese text;
- detectors: Presidio's stock EmailRecognizer, IpRecognizer, CreditCardRecognizer,
  IbanRecognizer, UsSsnRecognizer (medium patterns), NhsRecognizer and UkNinoRecognizer;
  ``phonenumbers`` with its strictest useful leniency (VALID) over the session's regions; broad
  e-mail / URL / IPv4 patterns; the CN resident-ID checksum; each session's display names.

Issue #26's identifier classes (docs/pii_coverage.md) each have a detector built another way
than the scrubber's (``_identifiers``): tokens classified by their letter/digit shape (plates),
check digits computed by separate code (HKID, TW ID, ES NIF/NIE, FI, SE, IMEI, VIN), keyword scans
that read the next token (handles, licence, account and ID numbers, dates of birth), a view with
spelled-out digits and "at"/"dot" turned back into symbols (then the e-mail and phone detectors
above), Presidio's own TLD list for bare domains, and zh building/unit numbers.

What it does not prove: names of people who are not participants, street addresses other than zh
building/unit forms, and handles written without their platform's name have no independent
detector here, so their absence rests on the scrubber.
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
    # A placeholder becomes a line break: no keyword scan reads past a removed value into the next word.
    text = unicodedata.normalize("NFKC", _PLACEHOLDER.sub("\n", text))
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
    todo = [v for v in views if _TRIGGER.search(v) or _ID_TRIGGER.search(v.casefold())]
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
    for kind, start, end in _identifiers(view):
        found[(kind, start, end)] = None
    return Counter(kind for kind, _, _ in found)


def _names(view: str, names: tuple[str, ...]) -> Counter:
    low = view.casefold()
    parts = {p.strip().casefold() for n in names for p in (n, *n.split())}
    return Counter({"NAME": sum(1 for p in parts if len(p) >= 2 and _name_in(p, low))})


def _name_in(name: str, low: str) -> bool:
    if re.search(f"[{CJK}]", name):
        return name in low
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", low) is not None


# ------------------------------------------------------------------ issue #26 identifier classes
# Texts with neither a digit, @, :// nor www. reach the detectors below only through this trigger.
_ID_TRIGGER = re.compile(r"[a-z0-9]\.[a-z]|[一幺两][三四五六七八九]"
                         r"|\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b"
                         r"|\bat\b|艾特|圈a|[_#]|u/|护照|passport|"
                         r"bilibili|b站|小红书|红书|抖音|douyin|微博|weibo|微信|wechat|weixin|insta|tiktok|telegram|discord|"
                         r"twitter|snapchat|facebook|reddit|github|快手|知乎|ig\b|line\b|tg\b|fb\b")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_JOINERS = " ·•-."


def _shape(tok: str) -> str:
    return "".join("D" if c.isdigit() else "L" for c in tok)


def _tokens(view: str):
    """Alphanumeric runs, and each pair of runs joined by one separator ("AB12 CDE", "C·706AB")."""
    toks = [(m.start(), m.end()) for m in _TOKEN.finditer(view)]
    for i, (s, e) in enumerate(toks):
        yield s, e, view[s:e]
        if i + 1 < len(toks) and toks[i + 1][0] == e + 1 and view[e] in _JOINERS:
            s2, e2 = toks[i + 1]
            yield s, e2, view[s:e] + view[s2:e2]


# Plate shapes by letter/digit pattern (upper-case letters): UK since 2001, California, Taiwan /
# New York; mainland plates are a province character then letter + 5-6 alphanumerics with a digit.
_PLATE_SHAPES = {"LLDDLLL", "DLLLDDD", "LLLDDDD"}
_PROVINCES = set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")


def _plate(view: str, s: int, tok: str) -> bool:
    if tok.isupper() and _shape(tok) in _PLATE_SHAPES and (len(tok) == 7):
        return not (_shape(tok) == "LLLDDDD" and view[s:s + 8].count("-") != 1)  # "ABC-1234" only
    before = view[max(0, s - 2):s].strip()
    return (bool(before) and before[-1] in _PROVINCES and 6 <= len(tok) <= 7 and tok[0].isalpha()
            and any(c.isdigit() for c in tok) and "I" not in tok.upper() and "O" not in tok.upper())


def _hkid(tok: str) -> bool:
    m = re.fullmatch(r"([A-Z]{1,2})(\d{6})([0-9A])", tok)
    if not m:
        return False
    letters = m.group(1).rjust(2, "@")  # "@" stands for the absent letter: value 36
    total = sum((36 if c == "@" else ord(c) - ord("A") + 10) * w for c, w in zip(letters, (9, 8)))
    total += sum(int(c) * w for c, w in zip(m.group(2), (7, 6, 5, 4, 3, 2)))
    want = -total % 11
    return m.group(3) == {10: "A"}.get(want, str(want))


_TW_CODES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                     (10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32, 30,
                      31, 33)))


def _tw_id(tok: str) -> bool:
    if not re.fullmatch(r"[A-Z][1289]\d{8}", tok):
        return False
    nums = [int(c) for c in str(_TW_CODES[tok[0]]) + tok[1:]]  # 11 digits
    weights = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
    return sum(n * w for n, w in zip(nums, weights)) % 10 == 0


def _luhn(digits: str) -> bool:
    odd = sum(int(c) for c in digits[-1::-2])
    even = sum(sum(divmod(int(c) * 2, 10)) for c in digits[-2::-2])
    return (odd + even) % 10 == 0


def _vin(tok: str) -> bool:
    if len(tok) != 17 or not tok.isupper() and not tok.isdigit() or set(tok) & set("IOQ"):
        return False
    if tok.isdigit() or tok.isalpha():
        return False
    trans = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"  # value = index mod 10 (VIN transliteration)
    vals = [trans.index(c) % 10 for c in tok]
    total = sum(v * w for v, w in zip(vals, (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)))
    return tok[8] == ("X" if total % 11 == 10 else str(total % 11))


def _es_id(tok: str) -> bool:
    m = re.fullmatch(r"([XYZ]?)(\d{7,8})([A-Z])", tok)
    if not m or len(m.group(1) + m.group(2)) != 8:
        return False
    n = int(str("XYZ".index(m.group(1))) + m.group(2) if m.group(1) else m.group(2))
    return "TRWAGMYFPDXBNJZSQVHLCKE"[n % 23] == m.group(3)


# Keyword scans: a keyword, then (past filler words such as "number", "id", "is") the first token
# within a few characters: (kind, keywords, the token's minimum digit count).
_KEYWORD_SCANS = (
    ("VEHICLE", ("车牌", "牌照", "号牌", "plate", "registration", "reg", "rego", "车架号", "vin"), 1),
    ("NATIONAL_ID", ("身份证", "身分证", "证件号", "回乡证", "通行证", "identity card", "id card", "national id",
                     "hkid", "nric", "bir", "dni", "nie"), 5),
    ("DEVICE_ID", ("imei", "meid", "serial", "s/n", "sn", "序列号", "串号"), 3),
    ("LICENCE", ("licence", "license", "certificate", "permit", "驾驶证", "驾照", "行驶证", "执照", "证书", "资格证",
                 "执业证", "许可证"), 4),
    ("ACCOUNT", ("account", "acct", "a/c", "member id", "policy", "medical record", "mrn", "patient id", "账号",
                 "帐号", "账户", "帐户", "卡号", "病历号", "医保", "社保", "会员号", "保单号", "就诊卡"), 6),
    ("PASSPORT", ("passport", "护照"), 6),
    ("US_SSN", ("ssn", "social security"), 9),
    ("HANDLE", ("bilibili", "b站", "哔哩哔哩", "小红书", "红书", "xiaohongshu", "抖音", "douyin", "快手", "kuaishou",
                "微博", "weibo", "微信", "v信", "vx", "wx", "wechat", "weixin", "qq", "扣扣", "知乎", "豆瓣",
                "instagram", "insta", "ig", "tiktok", "telegram", "tg", "discord", "twitter", "snapchat", "snap",
                "facebook", "fb", "line", "steam", "reddit", "github", "twitch", "youtube", "linkedin", "kakao",
                "whatsapp", "uid", "user id", "用户id", "u/"), 0),
)
_FILLER = {"number", "no", "num", "id", "uid", "is", "was", "my", "handle", "username", "name", "account", "code",
           "plate", "card", "of", "the", "号", "号码", "账号", "是", "为", "搜", "编号", "上", "的"}
_SCAN_WINDOW = 14  # characters between the keyword (or a filler word) and the next token
# A token: letters, digits and the marks IDs are written with, continued by space-separated digit
# groups ("6222 0210 0112", "HK 2048").
_SCAN_TOKEN = re.compile(r"[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9_.\-()#/]*(?:[ ][0-9][0-9\-]*)*")


def _keyword_variants(w: str) -> tuple[str, ...]:
    spaced = _SCRIPT_EDGE.sub(" ", w)  # normalise() puts a space where CJK meets ASCII ("b 站")
    return (w,) if spaced == w else (w, spaced)


# Platforms whose name is an everyday word ("the love line is strong"): "is" is no separator there.
_WORDLIKE = {"ig", "insta", "tg", "fb", "snap", "line", "steam"}


def _scan(view: str, low: str):
    for kind, words, min_digits in _KEYWORD_SCANS:
        for w in (v for word in words for v in _keyword_variants(word)):
            at = low.find(w)
            while at >= 0:
                end = at + len(w)
                alpha = w.isascii() and w[-1].isalpha()
                glued = alpha and (at > 0 and low[at - 1].isalpha() or end < len(low) and low[end].isalpha())
                if not glued:
                    yield from _after(view, end, kind, min_digits, w in _WORDLIKE)
                at = low.find(w, at + 1)


def _after(view: str, end: int, kind: str, min_digits: int, wordlike: bool = False):
    explicit = False
    for _ in range(4):  # skip up to three filler words
        m = _SCAN_TOKEN.search(view, end, end + _SCAN_WINDOW + 40)
        if not m or m.start() - end > _SCAN_WINDOW or "\n" in view[end:m.start()]:
            return
        gap = view[end:m.start()]
        explicit = explicit or any(x in gap for x in (":", "：", "=", "@"))
        tok = m.group().rstrip(".")
        head = re.match(r"[\u4e00-\u9fff]+", tok)
        if head:  # a CJK word: a filler ("号", "是") or the end of the scan
            if head.group() not in _FILLER:
                return
            explicit = explicit or head.group() in ("号", "号码", "账号", "是", "搜")
            end = m.start() + head.end()
            continue
        if tok.casefold() in _FILLER:
            explicit = explicit or tok.casefold() in (("id", "uid", "handle", "username") if wordlike else
                                                      ("is", "id", "uid", "handle", "username"))
            end = m.start() + len(tok)
            continue
        digits = sum(c.isdigit() for c in tok)
        if kind == "HANDLE":
            if len(tok) >= 3 and (digits or "_" in tok or "." in tok or "#" in tok or explicit and len(tok) >= 4):
                yield kind, m.start(), m.start() + len(tok)
        elif digits >= max(min_digits, 1):
            yield kind, m.start(), m.start() + len(tok)
        return


_BIRTH = ("born", "birth", "dob", "d.o.b", "bday", "b-day", "生日", "出生", "生于")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ZH_NUM = str.maketrans("零〇一二三四五六七八九幺两", "0012345678912")


def _a_date(text: str) -> re.Match | None:
    """A day-level date at the start of ``text`` (after spaces and "is"/"on"/"是"/":")."""
    import datetime as dt

    head = re.match(r"[\s:：是为在=]*(?:(?:is|was|on)\s+)*", text, re.IGNORECASE).end()
    rest = text[head:head + 24]
    low = rest.casefold()
    zh = rest.translate(_ZH_NUM)
    m = re.match(r"(\d{2,4}\s*年\s*)?(\d{1,2}|十\d?|\d?十\d?)\s*月\s*(\d{1,2}|十\d?|\d?十\d?)\s*[日号]?", zh)
    if m:
        return m
    for y, mth, d in ((1, 2, 3), (3, 2, 1), (3, 1, 2)):
        m = re.match(r"(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})", rest)
        if m:
            try:
                year = int(m.group(y))
                dt.date(year + (1900 if year < 100 else 0), int(m.group(mth)), int(m.group(d)))
                return m
            except ValueError:
                continue
    if re.match(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", rest):
        return re.match(r"\d{8}", rest)
    if any(low.startswith(mo) for mo in _MONTHS) or re.match(r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[a-z]{3}", low):
        m = re.match(r"(?:[a-z]+\.?\s+\d{1,2}|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[a-z]+)", low)
        if m and any(mo in m.group() for mo in _MONTHS):
            return m
    return None


def _dobs(view: str, low: str):
    for w in _BIRTH:
        at = low.find(w)
        while at >= 0:
            end = at + len(w)
            while end < len(low) and low[end].isalpha() and low[end].isascii():
                end += 1  # "birthday", "born"
            for skip in ("date", "日期", "年月日", "年月", "于", "在", "的"):
                if low.startswith(skip, end):
                    end += len(skip)
                    break
            m = _a_date(view[end:])
            if m:
                yield "DOB", end, end + m.end()
            at = low.find(w, at + 1)


_AT_WORD = r"(?:\s+(?:at|AT|At)\s+|\s*(?:艾特|圈a)\s*)"
_DOT_WORD = r"(?:\s+(?:dot|DOT|Dot)\s+|\s*点\s*)"
_SPELLED_MAIL = re.compile(
    rf"[A-Za-z0-9._%+\-]+{_AT_WORD}[A-Za-z0-9\-]+(?:{_DOT_WORD}[A-Za-z0-9\-]+)+"
    rf"|[A-Za-z0-9._%+\-]+{_AT_WORD}(?i:gmail|qq|163|126|outlook|hotmail|yahoo|icloud|foxmail|sina|proton|gmx)"
    r"\.[A-Za-z]{2,}")
_EN_DIGITS = {w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])}
_EN_DIGITS["oh"] = "0"


def _spelled(view: str):
    """E-mails and phones written with words: "at"/"dot" and 艾特/点 back to @ and ., number words
    and Chinese numerals back to digits; the e-mail pattern and a digit count then decide."""
    # "at" and "dot" both spelled, or "at" spelled before a webmail host ("you at school.Then" is
    # a sentence without a space, not an address).
    for m in _SPELLED_MAIL.finditer(view):
        yield "EMAIL", m.start(), m.end()
    digits = re.sub(r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
                    lambda m: _EN_DIGITS[m.group().casefold()], view, flags=re.IGNORECASE).translate(_ZH_NUM)
    if digits != view:
        plain = re.sub(r"\D", "", view)
        for m in re.finditer(r"\d(?:[\s,\-]{0,3}\d){9,14}", digits):
            if re.sub(r"\D", "", m.group()) not in plain:  # spelled, not a digit run the text already had
                yield "PHONE", m.start(), m.end()


# Presidio UrlRecognizer's own TLD list (a source the scrubber's public-suffix rule does not use),
# less the TLDs that are English words or file extensions ("ok.so", "main.py").
_ENGLISH_TLDS = {
    "so", "is", "it", "in", "to", "do", "me", "am", "at", "be", "by", "no", "an", "as", "us", "my", "go", "py",
    "sh", "pl", "md", "ps", "rs", "ms", "ml", "cs", "how", "you", "now", "new", "one", "day", "fun", "run", "win",
    "lol", "men", "mom", "dad", "fit", "bar", "bet", "bid", "car", "dog", "pet", "red", "rip", "sex", "tax", "pub",
    "ink", "eat", "buy", "fly", "hot", "joy", "box", "off", "love", "life", "live", "best", "cool", "care", "help",
    "here", "home", "game", "talk", "work", "band", "date", "city", "team", "show", "news", "sale", "deal", "gift",
    "gold", "golf", "free", "fish", "food", "page", "plus", "rest", "style", "tips", "town", "zone"
}


@lru_cache(maxsize=1)
def _presidio_tlds() -> frozenset:
    from presidio_analyzer.predefined_recognizers import UrlRecognizer

    return frozenset(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX)) - _ENGLISH_TLDS


def _domains(view: str):
    for m in re.finditer(r"(?<![\w@.\-])((?:[a-z0-9\-]{2,63}\.)+)([a-z]{2,18})(?=$|[\s/,;!?)'\"]|\.(?:\s|$))", view):
        if m.group(2) in _presidio_tlds() and not m.group(1)[:-1].isdigit():
            yield "URL", m.start(), m.end()


# zh building / unit / room numbers ("212号楼4单元301") and road + house number ("文三路478号"):
# NFKC and the script-edge spaces applied.
_ZH_UNIT = re.compile(r"(?:\d+|[一二三四五六七八九十]+)\s*(?:号楼|栋|幢|座)\s*(?:\d+|[一二三四五六七八九十]+)\s*单元"
                      r"|单元\s*\d{3,4}\s*(?:室|房)?|\d+\s*单元\s*\d+\s*(?:室|房|号)|(?:路|街|大道|巷)\s*\d{1,5}\s*号")
# IDFA / GAID / any RFC 4122 UUID; Bitcoin addresses (base58 P2PKH/P2SH, bech32) by their shape.
_UUID = re.compile(r"(?i)(?<![0-9a-f-])[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}(?![0-9a-f-])")
_WALLET = re.compile(r"(?<![A-Za-z0-9])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{11,71})(?![A-Za-z0-9])")
# @handles: "@" + a Latin ID or CJK characters, not an e-mail's "@".
_AT_HANDLE = re.compile(r"(?<![A-Za-z0-9._%+\-])@(?:[A-Za-z0-9_][A-Za-z0-9_.]{1,}|\s?[\u4e00-\u9fff])")


def _identifiers(view: str):
    low = view.casefold()
    for s, e, tok in _tokens(view):
        if _plate(view, s, tok) or _vin(tok):
            yield "VEHICLE", s, e
        elif _tw_id(tok) or _es_id(tok) or re.fullmatch(r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]", tok):
            yield "NATIONAL_ID", s, e  # IT codice fiscale by its shape
    for m in re.finditer(r"(?<![A-Za-z0-9])([A-Z]{1,2}\d{6})\s?[(（]?\s?([0-9A])\s?[)）]?(?![A-Za-z0-9])", view):
        if _hkid(m.group(1) + m.group(2)):
            yield "NATIONAL_ID", m.start(), m.end()
    for m in re.finditer(r"(?<!\d)[157]\d{6}\s?[(（]\d[)）]", view):  # Macau: check digit in brackets
        yield "NATIONAL_ID", m.start(), m.end()
    for m in re.finditer(r"(?<![\w-])(\d{6})([-+A])(\d{3})([0-9A-Y])(?![\w-])", view):  # FI henkilötunnus
        if "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(m.group(1) + m.group(3)) % 31] == m.group(4):
            yield "NATIONAL_ID", m.start(), m.end()
    for m in re.finditer(r"(?<![\w-])(\d{6})[-+](\d{4})(?![\w-])", view):  # SE personnummer (Luhn)
        if _luhn(m.group(1) + m.group(2)):
            yield "NATIONAL_ID", m.start(), m.end()
    for m in re.finditer(r"(?<!\d)\d(?:[ \-]?\d){14}(?![\d])", view):  # IMEI: 15 digits, Luhn
        d = re.sub(r"\D", "", m.group())
        if _luhn(d) and len(set(d)) > 2:
            yield "DEVICE_ID", m.start(), m.end()
    for m in re.finditer(r"(?<![0-9A-Fa-f\-])[0-9A-Fa-f]{2}([:\-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
                         r"(?![0-9A-Fa-f:\-])"
                         r"|(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])", view):
        yield "DEVICE_ID", m.start(), m.end()  # MAC
    yield from _scan(view, low)
    yield from _dobs(view, low)
    yield from _spelled(view)
    yield from _domains(view)
    for m in _ZH_UNIT.finditer(view):
        yield "ADDRESS", m.start(), m.end()
    for m in _AT_HANDLE.finditer(view):
        yield "HANDLE", m.start(), m.end()
    for m in _UUID.finditer(view):
        yield "DEVICE_ID", m.start(), m.end()
    for m in _WALLET.finditer(view):
        yield "ACCOUNT", m.start(), m.end()
    for m in re.finditer(r"(-?\d{1,3}\.\d{4,})\D{1,6}?(-?\d{1,3}\.\d{4,})", view):  # two coordinates
        if abs(float(m.group(1))) <= 90 and abs(float(m.group(2))) <= 180:
            yield "ADDRESS", m.start(), m.end()
