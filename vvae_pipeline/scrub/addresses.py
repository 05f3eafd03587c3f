"""Street addresses: en (US/CA/UK/IE/AU), continental EU (FR, DE/AT/CH, NL, ES, IT, PT) and zh.

A street name alone ("Baker Street", "南京路") or a city alone ("上海市徐汇区") is not an address
here; what makes one is a house number with a street, a building/unit number with a housing
estate, a town or village below a county, or a full postcode. Latin name words are Latin letters
only, so an address glued to Chinese text ends where the Latin text ends.
"""

from __future__ import annotations

import re

from vvae_pipeline.scrub.rule import Rule

_L = "A-Za-zÀ-ÖØ-öø-ÿ"  # Latin letters with the accents of FR/DE/ES/IT/PT/NL street names
_CAP = f"[A-ZÀ-ÖØ-Þ][{_L}'’.-]*"  # a capitalised name word ("Queen's", "Saint-Honoré", "St.")
_EN_TYPES = ("Street|St|Road|Rd|Avenue|Ave|Av|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Terr|"
             "Parkway|Pkwy|Highway|Hwy|Close|Crescent|Cres|Grove|Gardens|Gdns|Square|Sq|Mews|Row|Walk|Rise|Parade|"
             "Hill|Circle|Cir|Trail|Park|Green|Broadway|Wharf|Quay|Alley|Esplanade|Embankment")
_EN_UNIT = r"(?:,?[ ]*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|#)\.?[ ]*[A-Za-z0-9-]{1,6})?"
# UK postcode (SW1A 1AA, NW1 6XE, M1 1AE); US ZIP after a state code; EU 4-5 digit postcodes.
UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}"
# Town words never run into a digit, so "London NW1 6XE" leaves the postcode to the postcode.
_TOWN = f"[A-ZÀ-Þ][{_L}'’-]+(?![0-9])(?:[ -][A-ZÀ-Þ][{_L}'’-]+(?![0-9])){{0,2}}"
_EN_TAIL = (rf"(?:,[ ]*{_TOWN})?(?:,?[ ]*(?:[A-Z]{{2}}[ ]+\d{{5}}(?:-\d{{4}})?|{UK_POSTCODE}))?")
_END = f"(?![{_L}0-9])"

_FR_TYPES = ("rue|avenue|av\\.|boulevard|bd|place|allée|allee|impasse|chemin|quai|cours|route|passage|square|"
             "faubourg|rond-point")
_FR_LINK = "(?:de la |de l'|de l’|du |des |de |d'|d’|la |le |l'|l’)?"
_EU_POST = rf"(?:,?[ ]*(?:[A-Z]{{1,2}}-)?\d{{4,5}}(?:[ ][A-Z]{{2}})?[ ]+{_TOWN})?"
_DE_SUFFIX = ("straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|gracht|laan|straat|plein|"
              "kade|singel|dijk|vej|gade|gatan|vägen")
_LATIN_ROAD = ("Calle|C/|Avenida|Avda\\.?|Av\\.|Paseo|Plaza|Carrer|Passeig|Ronda|Camino|Via|Viale|Piazza|Piazzale|"
               "Corso|Largo|Vicolo|Rua|Travessa|Praça|Alameda")
_LATIN_LINK = "(?:de la |del |de |dei |della |delle |degli |di |do |da |dos |das |)"

_EN_RULES = [
    # 221B Baker Street, Flat 3, London NW1 6XE / 42 Oak Ave, Apt 5B / 1600 Pennsylvania Avenue NW.
    Rule(rf"(?<![A-Za-z0-9_])\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?,?[ ]+(?:{_CAP}[ ]+){{1,3}}(?:{_EN_TYPES}){_END}\.?"
         rf"(?:[ ](?:NW|NE|SW|SE|N|S|E|W){_END})?" + _EN_UNIT + _EN_TAIL, 0.8),
    # The same written all lower-case in chat ("12 elm road"): fewer street types, no filler words.
    Rule(r"(?<![A-Za-z0-9_])\d{1,5}[a-z]?[ ]+(?:(?!(?:the|a|an|my|our|down|up|to|of|on|in|at|km|mi|miles|min|mins|"
         r"minutes|hours|more|other|main|long|next|first|last|new|old)[ ])[a-z]{3,12}[ ]+){1,2}"
         rf"(?:street|road|avenue|lane|drive|boulevard|crescent|terrace|close|gardens){_END}" + _EN_TAIL, 0.75),
    Rule(r"(?<![A-Za-z0-9_])P\.?O\.?[ ]+Box[ ]+\d{1,6}", 0.8, flags=re.IGNORECASE),
    # A full UK postcode on its own identifies ~15 households.
    Rule(rf"(?<![A-Za-z0-9]){UK_POSTCODE}(?![A-Za-z0-9])", 0.7),
]
_EU_RULES = [
    # FR: 12 rue de la Paix, 75002 Paris / 5 bis, avenue Jean-Jaurès.
    Rule(rf"(?<![A-Za-z0-9_])\d{{1,4}}(?:[ ]?(?:bis|ter))?,?[ ]+(?:{_FR_TYPES})[ ]+{_FR_LINK}{_CAP}"
         rf"(?:[ ](?:{_FR_LINK}){_CAP}){{0,3}}" + _EU_POST, 0.8, flags=re.IGNORECASE),
    # DE/AT/CH/NL/Nordic: Hauptstraße 5, 10115 Berlin / Keizersgracht 123, 1015 CJ Amsterdam.
    Rule(rf"(?<![{_L}])(?:{_CAP}[ -])?[A-ZÀ-Þ][{_L}-]*(?i:{_DE_SUFFIX})[ ]+\d{{1,4}}[a-z]?{_END}" + _EU_POST, 0.8),
    # ES/IT/PT: Calle Mayor 10, 28013 Madrid / Via Roma 12 / Rua Augusta, 274.
    Rule(rf"(?<![{_L}])(?:{_LATIN_ROAD})[ ]+{_LATIN_LINK}{_CAP}(?:[ ]{_LATIN_LINK}{_CAP}){{0,3}},?[ ]+"
         rf"(?:n\.?[º°]?[ ]?)?\d{{1,4}}{_END}" + _EU_POST, 0.8),
]

# ---- zh: 省/市/区/县/镇/乡/村/路/街/大道/段/巷/弄/号/栋/幢/单元/室
# Function characters that end a zh address prefix ("我搬到了上海市..." must not swallow "我搬到了").
# Not 都/和/向/于: they start place names (成都, 和平路, 向阳路, 于都县).
_ZH_STOP = "我你他她它在到是的了住搬寄送去来从往跟与给把被吧呢啊吗呀哦就也还要想过着址离哪有"


def _cjk_without(stops: str) -> str:
    """A character class of CJK without ``stops``: one class test per character instead of a
    lookahead and a class (the zh rules ran ~5x faster so, measured on the demo bench)."""
    out, bounds = [], [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)]
    cut = sorted(ord(c) for c in set(stops))
    for lo, hi in bounds:
        for c in [c for c in cut if lo <= c <= hi] + [hi + 1]:
            if c > lo:
                out.append(f"{chr(lo)}-{chr(c - 1)}" if c - 1 > lo else chr(lo))
            lo = c + 1
    return "[" + "".join(out) + "]"


_P = _cjk_without(_ZH_STOP)
_NUM = r"(?:\d{1,5}|[一二三四五六七八九十百零〇两]{1,4})"
_ADMIN = rf"(?:{_P}{{1,8}}?(?:省|自治区|特别行政区|市|自治州|州|地区|盟|区|县|旗))"
_LOCAL = rf"(?:{_P}{{1,8}}?(?<!度假)(?:镇|乡|街道|村|社区|嘎查|屯))"  # a resort (度假村) is no village
_ROAD = rf"(?:{_P}{{1,12}}?(?:路|街|大道|大街|道|巷|弄|胡同)(?:{_NUM}段)?)"
_BLDG = rf"(?:{_NUM}|[A-Za-z])(?:号楼|栋|幢|座|号院)"
_UNIT = (rf"(?:{_BLDG})?(?:{_NUM}单元)?(?:{_NUM}(?:层|楼)(?!下|上))?"
         rf"(?:{_NUM}(?:室|房|号房)|[A-Za-z]?\d{{2,5}}(?=[^\d号]|$))?")
# Characters a zh address rule cannot match without (the engine's prefilter relies on it).
ZH_ADDRESS_HINT = "[号弄栋幢座镇乡村屯]|街道|社区|嘎查"
_ESTATE = rf"(?:{_P}{{1,10}}?(?:小区|花园|公寓|大厦|家园|新村|广场|公馆|苑|府|城|里)(?:{_NUM}期)?)"
# Per-rule gates (recognizers.RegexRecognizer runs a rule only within 60 characters before a
# gate match): a number right before 号/弄, a building number, a town or village word.
_G_HOUSE = rf"{_NUM}(?:号|弄)"
_G_BLDG = r"(?:\d|[A-Za-z一二三四五六七八九十])(?:号楼|栋|幢|座|号院)"
_G_LOCAL = "镇|乡|村|街道|社区|嘎查|屯"
_ZH_RULES = [
    # Road + house number: 忠孝东路四段123号, 长乐路123弄4号301室, 建国路99号3号楼2单元501室.
    Rule(rf"(?:{_ADMIN}|{_LOCAL}){{0,5}}{_ROAD}(?:{_NUM}(?:巷|弄))*{_NUM}(?:号|弄)(?![线机球码])(?:院)?"
         rf"(?:之{_NUM})?{_UNIT}(?:{_ESTATE}{_UNIT})?", 0.8, gate=_G_HOUSE),
    # Housing estate + building/unit/room: 阳光花园12栋1单元302室; after a district the estate may
    # end in anything (北京市朝阳区望京西园三区212号楼4单元301, issue #26), and the room may be bare digits.
    Rule(rf"(?:(?:{_ADMIN}|{_LOCAL}){{0,5}}(?:{_ROAD}(?:{_NUM}号)?)?{_ESTATE}|(?:{_ADMIN}|{_LOCAL}){{1,5}}"
         rf"(?:{_P}{{1,10}}?(?:{_NUM}(?:区|期))?)?)"
         rf"{_BLDG}(?:{_NUM}单元)?(?:{_NUM}(?:层|楼))?(?:{_NUM}(?:室|房|号)|\d{{3,5}}(?![\d号]))?", 0.8,
         gate=_G_BLDG),
    # Administrative chain down to a town or village: 河南省周口市郸城县汲冢镇张庄村3组.
    Rule(rf"(?:{_ADMIN}|{_LOCAL}){{1,5}}{_LOCAL}(?:{_NUM}(?:组|队))?(?:{_NUM}号)?", 0.75, gate=_G_LOCAL),
    # Village + house number without the chain: 张庄村3组15号.
    Rule(rf"{_P}{{1,6}}?(?:村|屯|庄)(?:{_NUM}(?:组|队))?{_NUM}号(?![线机球码])", 0.75, gate=_G_HOUSE),
]

ADDRESS_RULES = _EN_RULES + _EU_RULES + _ZH_RULES
