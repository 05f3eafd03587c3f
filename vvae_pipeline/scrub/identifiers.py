"""Structured identifiers beyond e-mail / phone / card (issue #26): vehicles, national IDs of the
regions a zh/en platform sees, device IDs, licence and account numbers after their keyword,
platform handles after the platform's name, dates of birth, spelled-out contacts, bare domains.

Kept resources first (docs/pii_coverage.md lists which recognizer covers which class): Presidio's
predefined recognizers run through stock.py (UK plates, MAC addresses, URLs with a scheme, UK
driving licences, ES/IT/FI/SE national IDs); bare domains are validated against the public
suffix list that ships with ``tldextract`` (a Presidio dependency). The patterns below exist
where no kept library covers the class; each names the format it follows. Check digits are
validated wherever the format has one (HKID, TW ID, IMEI, VIN).

Boundaries are ASCII classes (CJK characters are ``\\w`` in Python ``re``), and no pattern
matches the fast path's separator U+E000 or a line break.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult

from vvae_pipeline.scrub.recognizers import RegexRecognizer, luhn_ok
from vvae_pipeline.scrub.rule import Rule


@dataclass(frozen=True)
class KeywordRule:
    """A value right after one of its keywords: the keywords (lower case) are found with
    ``str.find`` on an ASCII-lower-cased copy, then ``after`` is matched where the keyword ends.
    A case-insensitive regex alternation of keywords tries every position of a ~50k-character
    chunk (8-14 ms per rule, measured on demo chat); ``str.find`` per keyword takes ~0.5 ms in all.
    Keywords that start or end with a Latin letter must not be glued to another Latin letter."""

    keywords: tuple[str, ...]
    after: str
    score: float
    group: int = 0
    validate: object = None
    flags: int = re.IGNORECASE

# ---------------------------------------------------------------- check digits

# HKID (Hong Kong Immigration Department): one or two letters and six digits; the letters count
# A=10..Z=35 (a missing second letter counts 36), weights 9..2 on the 8 positions, check character
# = (11 - sum mod 11) mod 11, written "A" for 10.
def hkid_ok(s: str) -> bool:
    body = re.sub(r"[()（）\s]", "", s).upper()
    if not re.fullmatch(r"[A-Z]{1,2}\d{6}[0-9A]", body):
        return False
    head, check = body[:-1], body[-1]
    head = head if len(head) == 8 else " " + head
    values = [36 if c == " " else (ord(c) - 55 if c.isalpha() else int(c)) for c in head]
    r = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1))) % 11) % 11
    return check == ("A" if r == 10 else str(r))


# ROC national ID / new-style resident certificate (Taiwan, Ministry of the Interior): letter (area
# code 10-35 in this order), sex digit 1/2 (8/9 for residents since 2021), 7 digits, check digit;
# the area code's two digits weigh 1 and 9, the next eight digits 8..1, the check digit 1; sum mod 10 == 0.
TW_AREA = "ABCDEFGHJKLMNPQRSTUVXYWZIO"  # A=10, B=11 ... (I=34, O=35)


def tw_id_ok(s: str) -> bool:
    s = s.upper()
    if not re.fullmatch(r"[A-Z][1289]\d{8}", s):
        return False
    code = TW_AREA.index(s[0]) + 10
    digits = [int(c) for c in s[1:]]
    total = code // 10 + (code % 10) * 9 + sum(d * w for d, w in zip(digits, (8, 7, 6, 5, 4, 3, 2, 1, 1)))
    return total % 10 == 0


def imei_ok(s: str) -> bool:
    """IMEI (3GPP TS 23.003): 15 digits, the last a Luhn check digit over the first 14."""
    d = re.sub(r"\D", "", s)
    return len(d) == 15 and luhn_ok(d) and len(set(d)) > 2


_VIN_VALUES = {**{str(i): i for i in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_ok(s: str) -> bool:
    """VIN (ISO 3779; check digit at position 9 per US 49 CFR 565): 17 characters without I/O/Q,
    with letters and digits both present."""
    s = s.upper()
    if not re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", s) or s.isdigit() or s.isalpha():
        return False
    r = sum(_VIN_VALUES[c] * w for c, w in zip(s, _VIN_WEIGHTS)) % 11
    return s[8] == ("X" if r == 10 else str(r))


def _has_digit(s: str) -> bool:
    return any(c.isdigit() for c in s)


def _digits_at_least(n: int):
    return lambda s: sum(c.isdigit() for c in s) >= n


# ---------------------------------------------------------------- vehicles
# Mainland plates (GA 36-2018): province abbreviation, issuing-office letter (no I/O), a separator
# dot people often type, then 5 characters (6 on new-energy plates: D/F + 5, or 5 + D/F), at least
# one of them a digit; special-use suffixes 学/警/挂/港/澳/领/试/超.
CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CH = "A-HJ-NP-Za-hj-np-z0-9"
CN_PLATE = (rf"(?<![A-Za-z0-9])[{CN_PROVINCES}][A-HJ-NP-Za-hj-np-z][·•.\- ]?[{_PLATE_CH}]{{5,6}}"
            rf"(?:[学警挂港澳领试超])?(?![A-Za-z0-9])")
_PLATE_WORDS = ("车牌", "牌照", "号牌", "车号", "plate", "reg", "registration", "rego", "tag number", "tag")
VEHICLE_RULES = [
    Rule(CN_PLATE, 0.85, validate=_has_digit, gate=f"[{CN_PROVINCES}]"),
    # California-style "7ABC123" (digit, 3 letters, 3 digits: the DMV's sequential format since 1980).
    Rule(r"(?<![A-Za-z0-9-])[1-9][A-Z]{3}\d{3}(?![A-Za-z0-9-])", 0.75, gate=r"\d[A-Z]{3}\d{3}"),
    # "ABC-1234" (3 letters, hyphen, 4 digits: Taiwan's 2012 format, and New York/Texas style).
    Rule(r"(?<![A-Za-z0-9-])[A-Z]{3}-\d{4}(?![A-Za-z0-9-])", 0.7, gate=r"[A-Z]{3}-\d"),
    # Any plate right after a plate word (HK "AB 1234", older UK, other states): 4-10 characters,
    # at least one digit.
    KeywordRule(_PLATE_WORDS, r"(?:[ ]?(?:number|no\.?|号码|号))?[ ]?(?:is|was|是|为|:|：|#)?[ ]*"
                r"([A-Za-z0-9][A-Za-z0-9·•\- ]{2,8}[A-Za-z0-9])(?![A-Za-z0-9])", 0.8, group=1, validate=_has_digit),
    # VIN with its check digit anywhere; without one only after VIN / 车架号 (non-US VINs have none).
    Rule(r"(?<![A-Za-z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])", 0.85, validate=vin_ok, gate=r"[A-HJ-NPR-Z0-9]{17}"),
    KeywordRule(("vin", "车架号", "车辆识别代号"), r"(?:码|号)?[ ]*(?:is|是|:|：)?[ ]*([A-HJ-NPR-Za-hj-npr-z0-9]{17})"
                r"(?![A-Za-z0-9])", 0.85, group=1, validate=_has_digit),
]

# Gates (rule.py): a rule runs only on the utterances of a chunk where its gate matches, from 60
# characters before the gate; each gate below is a part of every match of its rule.

# ---------------------------------------------------------------- national IDs
NATIONAL_ID_RULES = [
    # HKID "A123456(7)": the check character in half- or full-width parentheses, or glued on.
    Rule(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}\d{6}[ ]?(?:\([0-9Aa]\)|（[0-9Aa]）|[0-9Aa])(?![A-Za-z0-9])", 0.9,
         validate=hkid_ok, gate=r"[A-Za-z]\d{6}"),
    Rule(r"(?<![A-Za-z0-9])[A-Za-z][1289]\d{8}(?![A-Za-z0-9])", 0.9, validate=tw_id_ok, gate=r"[A-Za-z][1289]\d{8}"),
    # Macau resident ID (BIR): 1/5/7 + 6 digits + check digit in parentheses; the check-digit rule
    # is not published, so the parentheses are required.
    Rule(r"(?<![A-Za-z0-9])[157]\d{6}[ ]?(?:\(\d\)|（\d）)", 0.85, gate=r"\d{6}[ ]?[(（]"),
    # Any national/identity number after its keyword (the forms above without their check digit,
    # other countries): 6-18 characters with 5+ digits.
    KeywordRule(("身份证", "身分证", "证件号", "回乡证", "通行证", "identity card", "id card", "national id", "hkid",
                 "nric", "id number"),
                r"(?:号码|号|字号|[ ]?(?:number|no\.?))?[ ]*(?:is|是|为|:|：|#)?[ ]*"
                r"([A-Za-z]{0,2}[0-9][0-9A-Za-z()（）\-]{4,16})(?![A-Za-z0-9])", 0.8, group=1,
                validate=_digits_at_least(5)),
]

# ---------------------------------------------------------------- devices, licences, accounts
DEVICE_RULES = [
    Rule(r"(?<![0-9])\d{2}[ -]?\d{6}[ -]?\d{6}[ -]?\d(?![0-9])", 0.8, validate=imei_ok, gate=r"\d{6}"),
    KeywordRule(("imei", "meid", "serial", "s/n", "sn", "序列号", "串号"),
                r"(?:[ ]?(?:number|no\.?|#|号))?[ ]*(?:is|是|:|：|#)?[ ]*([A-Za-z0-9][A-Za-z0-9\-]{6,20}[A-Za-z0-9])"
                r"(?![A-Za-z0-9])", 0.8, group=1, validate=_digits_at_least(3)),
]
# Licence and certificate numbers (HIPAA identifier 11), after their keyword.
LICENCE_RULES = [
    KeywordRule(("licence", "license", "certificate", "cert", "permit", "驾驶证", "驾照", "行驶证", "执照", "证书",
                 "资格证", "执业证", "许可证"),
                r"(?:[ ]?(?:number|no\.?|num|#|编号|号码|号))?[ ]*(?:is|是|为|:|：)?[ ]*"
                r"([A-Za-z0-9][A-Za-z0-9\-]{4,20}[A-Za-z0-9])(?![A-Za-z0-9])", 0.8, group=1,
                validate=_digits_at_least(4)),
]
# Account, medical-record and health-plan numbers (HIPAA identifiers 8-10), after their keyword.
ACCOUNT_RULES = [
    KeywordRule(("account", "acct", "a/c", "member id", "policy", "medical record", "mrn", "patient id", "账号", "帐号",
                 "账户", "帐户", "卡号", "病历号", "社保号", "会员号", "保单号"),
                r"(?:[ ]?(?:number|no\.?|#))?[ ]*(?:is|是|为|:|：)?[ ]*([0-9][0-9 \-]{4,24}[0-9])(?![0-9])",
                0.8, group=1, validate=_digits_at_least(6)),
]

# ---------------------------------------------------------------- platform handles
# The platform's name (or its usual abbreviation), an optional ID word, a separator, the ID.
_PLATFORMS = ("微信", "威信", "扣扣", "qq", "微博", "抖音", "快手", "b站", "哔哩哔哩", "bilibili", "小红书", "红书",
              "知乎", "豆瓣", "贴吧", "钉钉", "视频号", "wechat", "weixin", "weibo", "douyin", "kuaishou",
              "xiaohongshu", "rednote", "instagram", "tiktok", "telegram", "discord", "twitter", "snapchat",
              "facebook", "kakao", "kakaotalk", "reddit", "github", "twitch", "youtube", "linkedin", "skype",
              "whatsapp", "mastodon", "bluesky")
# An ID after a bare space: a digit, "_" or a dot before two lower-case letters (the prefilter's
# hints, hints.py, fire on each of these).
_LOOKS_LIKE_ID = re.compile(r"[0-9_]|[A-Za-z0-9]\.[a-z]{2}")
# Platform names that are also everyday words or letters ("her line is busy", "a big snap"): a
# letters-only ID counts only after an ID word or ":" / "=", never after a plain "is".
_WORD_PLATFORMS = ("insta", "ig", "tg", "fb", "snap", "threads", "line", "steam", "signal")
_ID_WORDS = r"(?:号码|号|账号|帐号|id|ID|UID|uid|用户名|handle|username|user name|account|名)"
HANDLE_RULES = [
    # An explicit ID word or separator: any 3-32 character ASCII ID ("小红书号：lilycat", "B站UID 3829104").
    KeywordRule(_PLATFORMS, rf"[ ]?(?:上|里)?(?:的)?(?:{_ID_WORDS}[ ]?(?:is|是|为|:|：|=|#)?|is|是|为|:|：|=|搜|search)"
                r"[ ]*@?([A-Za-z0-9_][A-Za-z0-9_.\-]{1,30}[A-Za-z0-9_])(?![A-Za-z0-9_])", 0.85, group=1,
                validate=lambda s: not s.isalpha() or len(s) >= 4),
    KeywordRule(_WORD_PLATFORMS, rf"[ ]?(?:{_ID_WORDS}[ ]?(?:is|是|为|:|：|=|#)?|:|：|=)"
                r"[ ]*@?([A-Za-z0-9_][A-Za-z0-9_.\-]{1,30}[A-Za-z0-9_])(?![A-Za-z0-9_])", 0.85, group=1,
                validate=lambda s: not s.isalpha() or len(s) >= 4),
    # Only a space (or "is") after the platform: the ID must look like one (a digit, _ or . inside).
    KeywordRule(_PLATFORMS + _WORD_PLATFORMS, r"[ ]+(?:is[ ]+|是)?@?([A-Za-z0-9_][A-Za-z0-9_.\-]{1,30}[A-Za-z0-9_])"
                r"(?![A-Za-z0-9_])", 0.8, group=1, validate=lambda s: bool(_LOOKS_LIKE_ID.search(s))),
    # A numeric user ID after UID / user id (Bilibili, Genshin and most zh platforms show one).
    KeywordRule(("uid", "user id", "用户id"), r"[ ]*(?:is|是|为|:|：|=)?[ ]*(\d{5,12})(?!\d)", 0.85, group=1),
    # Discord's legacy "name#1234" tags and Reddit's "u/name".
    Rule(r"(?<![A-Za-z0-9_.])[A-Za-z0-9_.]{2,32}#\d{4}(?!\d)", 0.8, gate=r"#\d{4}"),
    Rule(r"(?<![A-Za-z0-9_/])u/[A-Za-z0-9_-]{3,20}(?![A-Za-z0-9_-])", 0.8),
]

# ---------------------------------------------------------------- dates of birth
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_ZH_N = "[0-9一二三四五六七八九十〇零两]"
_DATE = (rf"(?:\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}|"
         rf"(?:19|20)\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|"
         rf"{_MONTH}[ ]\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ ]\d{{4}})?|"
         rf"\d{{1,2}}(?:st|nd|rd|th)?[ ](?:of[ ])?{_MONTH}(?:,?[ ]\d{{4}})?|"
         rf"(?:{_ZH_N}{{2,4}}年)?{_ZH_N}{{1,2}}月{_ZH_N}{{1,3}}[日号]?)")
DOB_RULES = [
    KeywordRule(("born", "date of birth", "birth date", "birthdate", "birthday", "dob", "d.o.b", "bday", "b-day",
                 "生日", "出生", "生于"),
                r"\.?(?:日期|年月日|年月|于|在)?[ ]*(?:is|was|on|:|：|是|为|在|=)?[ ]*(?:on )?"
                rf"({_DATE})", 0.85, group=1),
]

# ---------------------------------------------------------------- spelled-out contacts
_AT_GATE = r" (?:at|AT|At) |艾特|圈a|＠"
_MAIL_HOSTS = ("gmail|googlemail|qq|163|126|yeah|139|sina|sohu|foxmail|aliyun|hotmail|outlook|live|msn|yahoo|"
               "icloud|me|proton|protonmail|pm|gmx|yandex|mail|aol|zoho")
_SPELLED_TLD = "com|net|org|edu|gov|cn|co|io|me|uk|de|fr|jp|hk|tw|us|ca|au"
SPELLED_EMAIL_RULES = [
    # "jane.doe at gmail dot com", "jane艾特qq点com": "at" and "dot" written out (the usual
    # anti-scraping obfuscation), any host.
    Rule(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,40}[ ]*(?:[ ](?:at|AT|At)[ ]|艾特|圈a|＠)[ ]*"
         r"[A-Za-z0-9-]{2,30}(?:[ ]*(?:[ ](?:dot|DOT|Dot)[ ]|点)[ ]*[A-Za-z0-9-]{2,10}){1,3}(?![A-Za-z0-9])", 0.85,
         gate=_AT_GATE),
    # "at" written out, the dot kept: only with a known mail host ("work at google.com" is a URL).
    Rule(rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{{0,40}}(?:[ ](?:at|AT|At)[ ]|艾特|圈a)[ ]*"
         rf"(?:{_MAIL_HOSTS})\.(?:{_SPELLED_TLD})(?:\.[a-z]{{2}})?(?![A-Za-z0-9])", 0.85, flags=re.IGNORECASE,
         gate=_AT_GATE),
]
# Digits written as Chinese numerals (幺 is the spoken "one") or as English words, mixed with
# ASCII digits or not: a CN mobile number's 11 (1[3-9] ...), or 10+ digit words in a row.
_ZH_DIGIT = "[0-9零〇一二三四五六七八九幺两]"
_EN_DIGIT = "(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_EN_DIGIT_CASED = "(?:" + "|".join(v for w in _EN_DIGIT[3:-1].split("|") for v in (w, w.capitalize(), w.upper())) + ")"
SPELLED_PHONE_RULES = [
    Rule(rf"(?<![0-9零〇一二三四五六七八九幺两十百千万])[1一幺][3-9三四五六七八九](?:[ \-]?{_ZH_DIGIT}){{9}}"
         rf"(?![0-9零〇一二三四五六七八九幺两十百千万])", 0.85, validate=lambda s: not s.isascii(),
         gate=r"[1一幺][3-9三四五六七八九]"),
    Rule(rf"(?<![A-Za-z]){_EN_DIGIT_CASED}(?:[ ,\-]{{1,2}}{_EN_DIGIT_CASED}){{9,14}}(?![A-Za-z])", 0.85,
         gate=rf"{_EN_DIGIT_CASED}[ ,\-]{{1,2}}{_EN_DIGIT_CASED}[ ,\-]{{1,2}}{_EN_DIGIT_CASED}"),
]


# ---------------------------------------------------------------- coordinates
# Latitude, longitude in decimal degrees with 4+ decimals (~10 m: a home, PIPL's 行踪轨迹 and
# GDPR's location data); signed, with N/S/E/W, or after 北纬/南纬 ... 东经/西经.
_LAT = r"(?:[1-8]?\d|90)\.\d{4,8}"
_LON = r"(?:1[0-7]\d|[1-9]?\d|180)\.\d{4,8}"
GEO_RULES = [
    Rule(rf"(?<![\d.])-?{_LAT}°?[ ]?[NSns]?[ ]?[,，][ ]?-?{_LON}°?[ ]?[EWew]?(?![\d.])", 0.8, gate=r"\d\.\d{4}"),
    Rule(rf"[北南]纬[ ]?{_LAT}°?[ ]?[,，、]?[ ]?[东西]经[ ]?{_LON}°?", 0.8),
]

# ---------------------------------------------------------------- bare domains
# Top-level domains that are common English words or file extensions: "know.how", "ok.so" and
# "main.py" typed without a space after the full stop are sentences and file names, not domains.
# Such a TLD needs a scheme, www. or a path (the URL rules in recognizers.py) to count.
WORD_TLDS = frozenset(
    [
        "how", "you", "now", "new", "one", "day", "fun", "run", "win", "lol", "men", "mom", "dad", "fit", "bar",
        "bet", "bid", "car", "dog", "pet", "red", "rip", "sex", "tax", "pub", "ink", "eat", "buy", "fly", "hot",
        "joy", "box", "off", "wow", "yes", "zip", "top", "so", "is", "it", "in", "to", "do", "me", "am", "at", "be",
        "by", "no", "an", "as", "us", "my", "go", "ok", "im", "he", "we", "la", "ma", "pa", "hi", "ha", "oh", "um",
        "tv", "py", "sh", "pl", "md", "ps", "rs", "ms", "ml", "cs", "love", "life", "live", "best", "cool", "care",
        "help", "here", "home", "game", "talk", "work", "band", "date", "city", "team", "show", "news", "sale",
        "world", "guru", "deal", "gift", "gold", "golf", "free", "fish", "food", "page", "wiki", "plus", "rest",
        "style", "tips", "town", "zone"
    ])


@lru_cache(maxsize=1)
def _suffixes():
    import tldextract

    # The public suffix list snapshot tldextract ships with (no network: suffix_list_urls=()).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def bare_domain_ok(s: str) -> bool:
    host = s.split("/", 1)[0].lower()
    parts = _suffixes()(host)
    if not parts.suffix or not parts.domain or len(parts.domain) < 2 or parts.domain.isdigit():
        return False
    last = parts.suffix.rsplit(".", 1)[-1]
    return "/" in s or last not in WORD_TLDS or "." in parts.suffix


BARE_DOMAIN_RULES = [
    # Lower-case labels (a capital after the dot reads as a new sentence) ending in a public suffix.
    Rule(r"(?<![A-Za-z0-9_@.\-])(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[a-z]{2,18}(?:/[A-Za-z0-9\-._~/?#=&%+]*[A-Za-z0-9/])?"
         r"(?![A-Za-z0-9_@\-]|\.[A-Za-z0-9])", 0.75, validate=bare_domain_ok, gate=r"[A-Za-z0-9]\.[a-z]{2}"),
]

# The prefilter's share (hints.py): a rule above that can match without a digit, ``@``, ``:`` or
# ``_`` needs one of these. Regexes are Rust-compatible (polars runs them too).
IDENTIFIER_HINT = "|".join([
    r"[A-Za-z0-9]\.[a-z]{2}",  # bare domains, IDs with a dot
    r"[一幺][三四五六七八九]",  # CN mobile numbers in Chinese numerals
    rf"(?i:{_EN_DIGIT}[ ,\-]{{1,2}}{_EN_DIGIT}[ ,\-]{{1,2}}{_EN_DIGIT})",  # in English words
    r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.|[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}-",  # MACs of hex letters only
    r"[0-9A-Fa-f]{8}-",  # UUIDs
    r"[A-Za-z0-9]{26}",  # wallet addresses (base58 may hold no digit)
    r"[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z]",  # codice fiscale with every digit coded as a letter
    r"点[ ]*[A-Za-z]{2}",  # "qq点com"
])
# Lower-case substrings: platforms (letters-only IDs may follow them), birth words, spelled "at"/"dot".
IDENTIFIER_HINT_WORDS = (
    *_PLATFORMS, "v信", "vx", "wx", "u/", "uid", "user id", "用户id",
    *(p + sep + w for p in _WORD_PLATFORMS for sep in ("", " ")
      for w in ("id", "号", "账号", "帐号", "uid", "用户名", "handle", "username", "user name", "account", "名",
                ":", "：", "=")),
    "born", "birth", "dob", "d.o.b", "bday", "b-day", "生日", "出生", "生于", "dot", "艾特", "圈a",
)

# (recognizer name stem, entity, rules): docs/pii_coverage.md names these recognizers.
IDENTIFIER_RECOGNIZERS = (
    ("vehicle", "VEHICLE", VEHICLE_RULES),
    ("national_id", "NATIONAL_ID", NATIONAL_ID_RULES),
    ("device_id", "DEVICE_ID", DEVICE_RULES),
    ("licence", "LICENCE", LICENCE_RULES),
    ("account", "ACCOUNT", ACCOUNT_RULES),
    ("platform_handle", "HANDLE", HANDLE_RULES),
    ("dob", "DOB", DOB_RULES),
    ("spelled_email", "EMAIL", SPELLED_EMAIL_RULES),
    ("spelled_phone", "PHONE", SPELLED_PHONE_RULES),
    ("bare_domain", "URL", BARE_DOMAIN_RULES),
    ("geo", "ADDRESS", GEO_RULES),
)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class IdentifierRecognizer(EntityRecognizer):
    """One entity type: regex rules (recognizers.RegexRecognizer) and keyword rules (KeywordRule)."""

    def __init__(self, entity: str, rules: list, language: str, name: str):
        self.regex = RegexRecognizer(entity, [r for r in rules if isinstance(r, Rule)], language, name=name)
        self.keyword_rules = [(r, re.compile(r.after, r.flags)) for r in rules if isinstance(r, KeywordRule)]
        super().__init__(supported_entities=[entity], name=name, supported_language=language)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        entity = self.supported_entities[0]
        if entities and entity not in entities:
            return []
        out = self.regex.analyze(text, entities) if self.regex.rules else []
        if not self.keyword_rules:
            return out
        low = _lower(text)
        hits: dict[str, list] = {}  # rules that share keywords (the handle rules) find them once
        for rule, rx in self.keyword_rules:
            for kw in rule.keywords:
                if kw not in hits:
                    hits[kw] = list(_keyword_hits(low, (kw,)))
            for _start, end in (h for kw in rule.keywords for h in hits[kw]):
                m = rx.match(text, end)
                if m is None:
                    continue
                s, e = m.span(rule.group)
                if e > s and (rule.validate is None or rule.validate(text[s:e])):
                    out.append(RecognizerResult(entity, s, e, rule.score))
        return out


_LAST_LOWER: list = ["", ""]


def _lower(text: str) -> str:
    """``text`` lower-cased with the same length (offsets stay valid). str.lower() is ~20x faster
    than a translate table but lengthens a few letters ("İ"); those texts take the table. The last
    result is kept: every recognizer of a chunk asks for the same text."""
    if _LAST_LOWER[0] is not text:
        low = text.lower()
        _LAST_LOWER[:] = [text, low if len(low) == len(text) else text.translate(_ASCII_LOWER)]
    return _LAST_LOWER[1]


def _is_latin(c: str) -> bool:
    return "a" <= c <= "z"


def _keyword_hits(low: str, keywords: tuple[str, ...]):
    for kw in keywords:
        at = low.find(kw)
        while at >= 0:
            end = at + len(kw)
            if not (_is_latin(kw[0]) and at > 0 and _is_latin(low[at - 1])
                    or _is_latin(kw[-1]) and end < len(low) and _is_latin(low[end])):
                yield at, end
            at = low.find(kw, at + 1)


def identifier_recognizers(language: str) -> list[IdentifierRecognizer]:
    return [IdentifierRecognizer(entity, rules, language, name=f"vvae_{stem}_{language}")
            for stem, entity, rules in IDENTIFIER_RECOGNIZERS]
