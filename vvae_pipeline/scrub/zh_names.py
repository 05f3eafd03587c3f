"""Chinese person names of anyone, participant or not, with jieba (MIT, dictionary in the wheel).

jieba's dictionary tags many everyday words as person names (谢谢, 胡萝卜, 刘海, 玉米 are ``nr``
in jieba 0.42.1), so its tags alone replace common words. A name here is a surname-initial word:

1. a token of jieba's segmentation (with its HMM for unknown words, ~7k hinted utterances/s
   on one core, measured on LCCC) that starts with a surname of the gazetteer, 2-4 characters;
2. either (a) the dictionary tags it ``nr``/``nrfg``/``nrt`` and it is rare (frequency <= 300
   in jieba's dictionary; 谢谢 is 1,089, 周杰伦 89) and not on the stoplist, or (b) it is unknown
   to the dictionary and the slower POS-HMM (``jieba.posseg``, ~900 utterances/s) tags it as a
   person name, or (c) a context cue stands right before it (我同事, 我老板, 跟, 和 ...) or a
   speech verb right after it (说, 告诉, 问);
3. surnames that are everyday characters (高, 方, 白, 马 ...) need the cue of (c).

4. with no cue word at all (``CUE_FREE``), a plain verb right before the name (碰到, 看见, 记得, 等,
   催, 请教 ...: ``PLAIN_VERBS``) or, at the start of an utterance or clause, a particle or time
   word right after it (把, 又, 的, 昨晚, 今年 ...: ``PLAIN_AFTER``): the surname and one or two
   given-name characters, unless the surname's two- or three-character word is an everyday word of
   jieba's dictionary (frequency > MAX_FREQ without a name tag: 王者, 黄金, 高手).

Only utterances where ``hint()`` fires reach jieba, about 10% of zh chat utterances (measured
on LCCC and on the demo generator's text).
"""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult

from vvae_pipeline.scrub.names import gazetteer
from vvae_pipeline.scrub.text import CJK

MAX_FREQ = 300
CUE_FREE = True  # off only to measure what the plain-verb contexts add (bench/names_fp.py)
NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})
# Dictionary person-name tags on words that are everyday words in chat (seen on LCCC).
STOP = frozenset(
    "谢谢 刘海 胡萝卜 胡子 白发 白白 熊猫 段时间 王道 宁可 安静 玉米 华丽 高升 原谅 明白 夏威夷 唐人街 汤圆 "
    "钟爱 田螺 白搭 雷雨 江浙沪 金风玉露 龙门阵 黄头发 白衬衣 韩服 沈阳人 韩国菜 杜英科 冯氏 孙子 "
    "周末 周围 周年 林子 石头 方面 高兴 黄金 马上 余额 万一 程序 史上 毛衣 严重 武器 钱包 雷锋 "
    "龙虾 叶子 夏天 江湖 白天 金额 任务 向上 于是 常常 付款 黎明 孔子 熊孩子 龚喜 谢邀 "
    "周日 周一 周二 周三 周四 周五 周六 "
    "周天 周边 周期 周到 方式 方法 方向 方案 高中 高手 白色 金色 荣幸 乔氏".split()
)


def _wordlike(word: str, freq: dict, tags: dict) -> bool:
    """A 4-character word without a compound surname (祝你好运, 尚方宝剑: idioms), or a 3-character
    one whose first two characters are a common non-name word (张开嘴, 戴绿帽): not a name."""
    if len(word) == 4 and _surname_len(word) != 2:
        return True
    head = word[:2]
    return len(word) == 3 and freq.get(head, 0) > MAX_FREQ and tags.get(head) not in NAME_TAGS
RELATION_CUE = ("同事|老板|领导|上司|经理|主管|朋友|闺蜜|室友|舍友|同学|老师|师傅|男朋友|女朋友|男友|女友|老公|老婆|"
                "前任|前男友|前女友|表哥|表姐|表弟|表妹|堂哥|堂姐|堂弟|堂妹|邻居|房东|客户|学生|徒弟|哥们|兄弟|"
                "姐妹|发小|对象|舅舅|姑姑|阿姨|叔叔|伯伯|医生|同桌|队友|网友|搭档|师兄|师姐|师弟|师妹|助理|秘书")
_CUE_BEFORE = re.compile(
    rf"(?:(?:我|我的|他的|她的|我们)(?:{RELATION_CUE})(?:叫|是)?|(?:{RELATION_CUE})|跟|和|给|找|问|叫|帮|陪|见|约)$"
)
_CUE_AFTER = re.compile(r"^(?:说|告诉|问我|跟我说|和我说|给我发|昨天|今天|居然|竟然|那个人|这个人|这人|那人)")
_FUNCTION = frozenset("的了吗呢吧啊呀哦说是在和跟把被也都就又还很太")
# Plain verbs that take a person as object, with no relation word: 上周遇见林X了, 还记得那个X吗 (X a name).
PLAIN_VERBS = ("碰到|遇到|遇见|碰见|撞见|看见|看到|见到|梦到|梦见|记得|想念|想起|惦记|听说|联系|提醒|通知|喜欢|讨厌|"
               "羡慕|佩服|心疼|担心|想|等|等等|催|催催|理|请|请教|夸|骂|批评|表扬|被|让|接|送|发给|借给|还给|嫁给|"
               "娶了|追|欠|谢谢|感谢|拉黑|加了|删了|告诉|通知|听|问问|找找|怪|恨|爱|认识|不认识|介绍")
# After a name that opens an utterance or clause: X把我..., X的车, X又... (X a name).
PLAIN_AFTER = ("把|被|又|也|都|还|刚|刚刚|已经|的|今天|昨天|昨晚|明天|今年|去年|最近|说|跟|和|给|请|送|考上|发|"
               "居然|竟然|真的|好像|是不是|怎么|在|要|会|到底|突然|终于|一直|总是|老是|天天|每天")
_NOT_GIVEN = _FUNCTION | frozenset("你我他她它您咱")
_PLAIN_BEFORE = re.compile(f"(?:{PLAIN_VERBS})$")
_PLAIN_AFTER = re.compile(f"(?:{PLAIN_AFTER})")  # used with .match(text, pos)
_CLAUSE_START = re.compile(r"(?:^|[，。！？、,.!?\s~～…；;：:])$")


@lru_cache(maxsize=1)
def _surnames() -> tuple[frozenset, frozenset, frozenset]:
    g = gazetteer()
    return (frozenset(g["zh_surnames"]), frozenset(g["zh_compound_surnames"]),
            frozenset(g["zh_surnames_ambiguous"]))


@lru_cache(maxsize=1)
def hint() -> re.Pattern:
    """Necessary for any finding: an unambiguous surname followed by a CJK character, a compound
    surname, or an everyday-character surname (高, 时, 文 ...) right after a cue or before one
    (those need a cue in ``find_names``). ~10% of zh chat utterances fire (LCCC, demo text)."""
    single, compound, ambiguous = _surnames()
    clear = "".join(sorted(single - ambiguous))
    amb = "".join(sorted(ambiguous))
    before = f"(?:{RELATION_CUE}|{PLAIN_VERBS}|[跟和给找问叫帮陪见约])(?:叫|是)?"
    # PLAIN_AFTER is not here: the clause-start rule never takes an everyday-word surname.
    after = "(?:说|告诉|问我|跟我说|和我说|给我发|昨天|今天|居然|竟然|那个人|这个人|这人|那人)"
    return re.compile(
        f"[{clear}][{CJK}]|" + "|".join(sorted(compound)) + f"|{before}[{amb}]|[{amb}][{CJK}]{{1,3}}{after}"
    )


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # ~0.7-0.9 s once per process: the dictionary ships in the wheel
    return jieba, jieba.posseg


def _surname_len(word: str) -> int:
    single, compound, _ = _surnames()
    if word[:2] in compound:
        return 2
    return 1 if word[0] in single else 0


def _cued(text: str, start: int, end: int) -> bool:
    return bool(_CUE_BEFORE.search(text[max(0, start - 6):start]) or _CUE_AFTER.match(text[end:end + 4]))


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans of zh person names in one utterance (see the module doc)."""
    if not hint().search(text):
        return []
    jieba, pseg = _jieba()
    tokens = list(jieba.tokenize(text))
    _, _, ambiguous = _surnames()
    freq, tags = jieba.dt.FREQ, pseg.dt.word_tag_tab
    out, unknown = [], False
    i = 0
    while i < len(tokens):
        word, start, end = tokens[i]
        i += 1
        n = _surname_len(word) if len(word) >= 1 else 0
        if not n:
            continue
        # A lone surname (or compound surname) token: glue up to two single-character given-name tokens.
        if len(word) == n:
            j = i
            while j < len(tokens) and j - i < 2 and len(tokens[j][0]) == 1 and tokens[j][0] not in _FUNCTION \
                    and re.match(f"[{CJK}]", tokens[j][0]):
                j += 1
            compound = n == 2 and j == i and i < len(tokens) and 1 <= len(tokens[i][0]) <= 2 \
                and re.fullmatch(f"[{CJK}]+", tokens[i][0]) and tokens[i][0][0] not in _FUNCTION
            if compound:  # 欧阳 + 娜娜: a compound surname and a given name jieba cut apart
                j = i + 1
            if j == i and i < len(tokens) and re.fullmatch(f"[{CJK}]{{2,}}", tokens[i][0]) \
                    and tokens[i][0][0] not in _FUNCTION and _cued(text, start, tokens[i][2]):
                # 邓 + 浩然 after 我室友, 马 + 俊杰 before 告诉: with a cue, the surname and the next two
                # characters (jieba glues 振宇家 into one token: the given name is its first two).
                out.append((start, tokens[i][1] + 2))
                i += 1
                continue
            if j == i:
                continue
            word, end, i = text[start:tokens[j - 1][2]], tokens[j - 1][2], j
            if compound and (word[:2] != "东方" or _cued(text, start, end)):
                out.append((start, end))
                continue
        cued = _cued(text, start, end)
        if cued and len(word) == 4 and n == 1 and not freq.get(word):
            word, end = word[:3], start + 3  # jieba's HMM glued the next verb on: 许婉清要 -> 许婉清
        if not 2 <= len(word) <= 4 or word in STOP or _wordlike(word, freq, tags):
            continue
        if word[0] in ambiguous and n == 1 and not cued:
            continue
        f = freq.get(word, 0)
        if cued and word[-1] not in _FUNCTION and (not f or f <= MAX_FREQ or tags.get(word) in NAME_TAGS):
            out.append((start, end))
        elif f and tags.get(word) in NAME_TAGS and f <= MAX_FREQ:
            out.append((start, end))
        elif not f:
            unknown = True
    if CUE_FREE:
        out += _plain_context(text, freq, tags)  # overlaps merge into their union (engine.py)
    if unknown:  # unknown surname-initial words: let the POS-HMM decide (slow, so only here)
        out += _pos_tagged_names(text, {s for s, _ in out})
    return out


def _pos_tagged_names(text: str, taken: set[int]) -> list[tuple[int, int]]:
    """Spans jieba's POS-HMM tags as person names, starting with a surname, not already ``taken``."""
    jieba, pseg = _jieba()
    _, _, ambiguous = _surnames()
    freq, tags = jieba.dt.FREQ, pseg.dt.word_tag_tab
    out, pos = [], 0
    for w in pseg.lcut(text):
        s, pos = pos, pos + len(w.word)
        if (w.flag in NAME_TAGS and s not in taken and 2 <= len(w.word) <= 4 and _surname_len(w.word)
                and w.word not in STOP and not _wordlike(w.word, freq, tags)
                and (w.word[0] not in ambiguous or _surname_len(w.word) == 2) and w.word[-1] not in _FUNCTION):
            out.append((s, pos))
    return out


def _common(word: str, freq: dict, tags: dict) -> bool:
    f = freq.get(word, 0)
    return word in STOP or (f > MAX_FREQ and tags.get(word) not in NAME_TAGS)


def _plain_context(text: str, freq: dict, tags: dict) -> list[tuple[int, int]]:
    """Names with no cue word: a plain verb before (``PLAIN_VERBS``), or the start of a clause
    before and a particle after (``PLAIN_AFTER``); see the module doc, rule 4. Guards, each from a
    false positive seen on LCCC/CPED (bench/names_fp.py): the verb is no tail of a longer word
    (上等龙井) and does not make a word with the surname (等于); a pronoun is no given name (祝你,
    连你); everyday-word surnames (连, 钱, 龙 ...) need the verb; a two-character name needs a
    particle, punctuation or the end after it (被戴绿帽子)."""
    single, compound, ambiguous = _surnames()
    out = []
    i = 0
    while i < len(text):
        n = 2 if text[i:i + 2] in compound else (1 if text[i] in single else 0)
        if not n:
            i += 1
            continue
        verb_m = _PLAIN_BEFORE.search(text, max(0, i - 4), i)
        verb = bool(verb_m) and not _common(text[max(0, verb_m.start() - 1):i], freq, tags) \
            and not _common(text[i - 1:i + 1], freq, tags)
        clause = bool(_CLAUSE_START.search(text, max(0, i - 1), i)) and (n == 2 or text[i] not in ambiguous)
        found = None
        if verb or clause:
            for length in (n + 2, n + 1):  # the longer name first: three characters before two
                end = i + length
                name = text[i:end]
                if end > len(text) or not re.fullmatch(f"[{CJK}]+", name) or any(c in _NOT_GIVEN for c in name[n:]):
                    continue
                # An everyday word through the surname (王者, 黄金, 周末), unless the whole is a
                # rare dictionary name (a rare nr word whose first two characters are a word; 谢谢 is nr but common).
                exempt = tags.get(name) in NAME_TAGS and freq.get(name, 0) <= MAX_FREQ and name not in STOP
                if freq.get(name, 0) and tags.get(name) not in NAME_TAGS:  # a known word, any frequency: 龙井 (ns)
                    continue
                if not exempt and (any(_common(text[i:k], freq, tags) for k in range(i + 2, end + 1))
                                   or _wordlike(name, freq, tags)):
                    continue
                # The longer form only when its last character does not open a common word (X丽今天: 今天).
                if length == n + 2 and end < len(text) and _common(text[end - 1:end + 1], freq, tags):
                    continue
                after = bool(_PLAIN_AFTER.match(text, end)) or end == len(text) or not re.match(f"[{CJK}]", text[end])
                if length == n + 1 and not after:
                    continue
                if (verb and (name[0] not in ambiguous or n == 2 or after)) or (
                    clause and _PLAIN_AFTER.match(text, end)
                ):
                    found = (i, end)
                    break
        if found:
            out.append(found)
            i = found[1]
        else:
            i += 1
    return out


class ZhNameRecognizer(EntityRecognizer):
    """``find_names`` per utterance of the analyzed text (utterances are joined by SEP)."""

    def __init__(self, language: str):
        super().__init__(supported_entities=["NAME"], name=f"vvae_zh_names_{language}", supported_language=language)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        from vvae_pipeline.scrub.recognizers import SEP

        out, pos = [], 0
        for part in text.split(SEP):
            out += [RecognizerResult("NAME", pos + s, pos + e, 0.75) for s, e in find_names(part)]
            pos += len(part) + 1
        return out
