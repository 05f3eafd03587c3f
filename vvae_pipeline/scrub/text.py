"""Same-length text views shared by the recognizers (offsets stay valid in the original text).

- ``fold_fullwidth``: full-width ASCII variants (U+FF01-FF5E: ``１３８``, ``ａｂｃ＠ｑｑ．ｃｏｍ``) and the
  ideographic space become their ASCII twins, one character for one, so recognizers written for
  ASCII digits and letters also see numbers typed with a Chinese IME. Full-width punctuation that
  ends a value in Chinese text (，。：；！？（）) is left as it is.
- ``ascii_view``: every non-ASCII character (CJK, emoji, the utterance separator) becomes NUL, so
  a third-party pattern written with ``\\b`` (Presidio's stock recognizers) sees a boundary where
  ASCII meets CJK: in Python ``re`` CJK characters are ``\\w`` and ``\\b`` does not fire between
  ``是`` and ``a``. NUL is neither ``\\w`` nor ``\\s``, so no pattern bridges a CJK run either.
"""

from __future__ import annotations

import re

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Full-width forms of the characters PII is written with: digits, letters, @ + - . _ # / and
# the ideographic space. Other full-width punctuation keeps its role as a delimiter.
_FOLDED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@+-._#/"
_FOLD = {ord(c) + 0xFEE0: c for c in _FOLDED}
_FOLD[0x3000] = " "
_FOLD_RE = re.compile("[" + "".join(map(chr, _FOLD)) + "]")


def fold_fullwidth(text: str) -> str:
    """``text`` with full-width digits/letters/@+-._#/ and U+3000 as ASCII; same length."""
    return text.translate(_FOLD) if _FOLD_RE.search(text) else text


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def ascii_view(text: str) -> str:
    """``fold_fullwidth(text)`` with every remaining non-ASCII character replaced by NUL; same length."""
    return _NON_ASCII.sub("\x00", fold_fullwidth(text))
