"""Candidate spans for the open persona dimensions, found in the text itself.

A 135M encoder given free strings writes the same junk phrase into every field (FACTS.md). Given a
short list of spans that really occur in the agent's turns (plus null), it only has to choose, and
every value it can produce is grounded by construction. Closed dimensions use their enums instead
(``latent.json_schema`` turns these lists into ``enum`` constraints).

- catchphrase: word (en) or character (zh) n-grams the agent repeats, across its turns or inside one
- emoji: the emojis the agent uses, most frequent first
- nickname: vocatives (a pet name or short name the agent addresses the user with)
- hobby: hobby mentions ("I love hiking", "我喜欢画画") and hobby words from a small lexicon
- topic: topic words from a small lexicon found anywhere in c or x
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from vvae_pipeline.latent import normalize

# Enough choices to cover what a session shows, few enough that prompts and grammars stay small:
# 5 per field x 5 open fields adds ~150 prompt tokens.
MAX_CANDIDATES = 5

_PLACEHOLDER = re.compile(r"\[[A-Z_]+(?:_\d+)?\]|<[A-Z_]+>")
_EN_WORD = re.compile(r"[a-z']+")
_ZH_RUN = re.compile(r"[\u4e00-\u9fff]+")

EN_STOP = frozenset(
    "a an the i you he she it we they me him her us them my your our their is are was were be been am "
    "do does did to of in on at for with and or but so if that this these those as by from up down out "
    "not no yes what when where who how why which there here have has had will would can could should "
    "just then than too very also about into over all any some its it's i'm you're don't that's".split()
)
ZH_STOP = frozenset("的了吗呢吧啊是我你他她它们在有就也都和很不这那个要会说")

EN_PET_NAMES = (
    # Only words that are almost always vocatives: "love", "dear", "friend" are found by position.
    "babe", "baby", "honey", "sweetie", "sweetheart", "darling", "buddy", "bro",
    "dude", "mate", "pal", "sis", "kiddo", "sunshine", "cutie", "champ",
)
ZH_PET_NAMES = (
    "亲爱的", "宝贝", "宝宝", "老公", "老婆", "哥哥", "姐姐", "弟弟", "妹妹", "小可爱", "亲", "兄弟",
    "老铁", "老板", "同学", "老师", "小笨蛋", "傻瓜", "大哥", "姐妹",
)
_EN_VOCATIVE = re.compile(
    r"(?:^|[.!?]\s+)(?:hey|hi|hello|oh|aw+|morning|night|thanks|thank you|ok|okay|yes|no|well),?\s+"
    r"([a-z]+)\s*[,!.?]"
    r"|,\s*([a-z]+)\s*[!.?~]*\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_ZH_VOCATIVE = re.compile(r"^([\u4e00-\u9fff]{1,3})[，,！!～~]|[，,]([\u4e00-\u9fff]{1,3})[！!～~。？?]*$", re.MULTILINE)
# Interjections and clause openers that sit where a vocative would ("Oh wow, ...", "我在听，...").
EN_NOT_NAMES = frozenset("wow yeah yes no god gosh well sure really okay ok right nice great cool thanks "
                         "please sorry hmm haha lol omg yay".split())
_ZH_NOT_NAME_START = tuple("我你他她它这那好哇哈嗯哦啊唉")
_ZH_NOT_NAME_END = tuple("了呢吧吗啊呀的")

EN_HOBBIES = (
    "reading", "painting", "drawing", "hiking", "cooking", "baking", "gaming", "swimming", "running",
    "cycling", "dancing", "singing", "photography", "gardening", "fishing", "yoga", "knitting",
    "traveling", "travelling", "camping", "chess", "guitar", "piano", "basketball", "football",
    "soccer", "tennis", "badminton", "skiing", "surfing", "writing", "movies", "anime", "music",
    "stargazing", "rock climbing", "climbing", "pottery", "calligraphy",
)
ZH_HOBBIES = (
    "画画", "看书", "读书", "跑步", "游泳", "打游戏", "玩游戏", "钓鱼", "做饭", "烘焙", "唱歌", "跳舞",
    "摄影", "拍照", "旅行", "旅游", "爬山", "徒步", "瑜伽", "下棋", "吉他", "钢琴", "篮球", "足球",
    "羽毛球", "打羽毛球", "打篮球", "网球", "滑雪", "写作", "追剧", "看电影", "听音乐", "动漫", "养花", "健身", "骑行", "露营",
)
_EN_HOBBY = re.compile(
    r"\bi (?:really )?(?:love|like|enjoy|am into|'m into|adore)\s+([a-z]+ing\b(?: [a-z]+)?)"
    r"|\bspent the (?:evening|day|weekend|afternoon|morning|night) ([a-z]+(?: [a-z]+){0,2})\s*(?=[,.!;]|$)"
)
_ZH_HOBBY = re.compile(
    r"(?:我(?:很|最|超|特别)?(?:喜欢|爱|热爱)|爱好是|平时(?:喜欢)?)([\u4e00-\u9fff]{2,4})"
    r"|(?:又|常|经常|每周)?去([\u4e00-\u9fff]{2,4}?)了"
)

# Topic lexicon: topic -> cue words (en and zh). The cue found in the text is the value.
TOPICS: dict[str, tuple[str, ...]] = {
    "work": ("work", "job", "boss", "office", "meeting", "工作", "上班", "加班", "老板", "同事"),
    "school": ("school", "exam", "class", "homework", "study", "考试", "学校", "作业", "上课", "学习"),
    "food": ("food", "dinner", "lunch", "cook", "restaurant", "美食", "吃饭", "好吃", "餐厅"),
    "travel": ("travel", "trip", "vacation", "flight", "旅行", "旅游", "出差", "机票"),
    "movies": ("movie", "film", "cinema", "电影", "电视剧", "追剧"),
    "music": ("music", "song", "concert", "band", "音乐", "演唱会"),
    "weather": ("weather", "rain", "sunny", "天气", "下雨"),
    "family": ("mom", "dad", "family", "sister", "brother", "家人", "妈妈", "爸爸", "家里"),
    "health": ("sick", "doctor", "hospital", "sleep", "生病", "医院", "睡觉"),
    "love": ("girlfriend", "boyfriend", "date", "miss you", "crush", "想你", "喜欢你", "约会", "爱你"),
    "sports": ("match", "gym", "workout", "比赛", "健身", "运动"),
    "shopping": ("shopping", "price", "mall", "购物", "便宜"),
    "hobbies": ("hobby", "weekend", "爱好", "周末"),
}


# A lexicon word that is also a topic cue ("旅行", "movies") is what the chat is about, not a hobby,
# unless a hobby pattern ("我喜欢旅行", "I spent the evening ...") says otherwise.
_TOPIC_CUES = frozenset(c for cues in TOPICS.values() for c in cues)


def _clean(text: str) -> str:
    return _PLACEHOLDER.sub(" ", text or "")


def _rank(counter: Counter, limit: int = MAX_CANDIDATES) -> list[str]:
    # Most frequent first, then longer (more specific), then alphabetical for determinism.
    return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))][:limit]


_CLAUSE = re.compile(r"[,.!?;:~|\n，。！？；：～…]+")


def phrase_units(text: str, language: str) -> set[str]:
    """Phrases a text contains: word 2-4-grams (en), plus whole short clauses (1-4 words, or 1-6
    characters in zh) such as "just saying" or "哼". Chinese has no word boundaries, so its 2-4
    character n-grams are taken only at clause edges ("真的假的，…", "…绝了"): sliding windows through
    a sentence gave fragments like "去打羽毛" as top candidates."""
    return _units(text, language)[0]


def _units(text: str, language: str) -> tuple[set[str], set[str]]:
    """(every phrase unit, the units that are whole short clauses)."""
    text = _clean(text).lower()
    units: set[str] = set()
    clauses: set[str] = set()
    for clause in _CLAUSE.split(text):
        clause = clause.strip()
        if language == "zh":
            runs = _ZH_RUN.findall(clause)
            if len(runs) == 1 and runs[0] == clause and len(clause) <= 6 and clause not in ZH_STOP:
                units.add(clause)
                clauses.add(clause)
            for run in runs[:1] + runs[-1:]:
                for n in (2, 3, 4):
                    if len(run) > n:
                        units.update(g for g in (run[:n], run[-n:]) if not all(ch in ZH_STOP for ch in g))
        else:
            words = _EN_WORD.findall(clause)
            if 1 <= len(words) <= 4 and not all(w in EN_STOP for w in words):
                units.add(" ".join(words))
                clauses.add(" ".join(words))
            for n in (2, 3, 4):
                units.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1)
                             if not all(w in EN_STOP for w in words[i : i + n]))
    return units, clauses


def phrase_counts(texts: list[str], language: str) -> Counter:
    """In how many of ``texts`` each phrase occurs (each text counted once)."""
    counts: Counter = Counter()
    for text in dict.fromkeys(texts):
        counts.update(phrase_units(text, language))
    return counts


def repeated_ngrams(agent_texts: list[str], language: str, limit: int = MAX_CANDIDATES,
                    agent_counts: Counter | None = None, other_counts: Counter | None = None) -> list[str]:
    """Phrases of this item's agent text that the agent repeats and other agents do not.

    ``agent_counts``: in how many of the agent's texts (across the batch) each phrase occurs;
    ``other_counts``: the same over every other agent. A phrase qualifies when the agent uses it in
    at least 2 texts and other agents at most a third as often (shared template lines are not
    anyone's catchphrase). A phrase inside a longer qualifying one with the same count is dropped,
    so "oh my" does not crowd out "oh my god".
    """
    here = phrase_counts(agent_texts, language)
    whole = set().union(*(_units(t, language)[1] for t in agent_texts)) if agent_texts else set()
    mine = agent_counts if agent_counts is not None else here
    others = other_counts or Counter()
    scored = {g: mine[g] - others[g] for g in here if mine[g] >= 2 and others[g] * 3 <= mine[g]}
    kept = [g for g in scored if not any(g != o and g in o and mine[o] >= mine[g] for o in scored)]
    # Whole short clauses ("just saying") before fragments of longer sentences ("never change my
    # mind" out of "I never change my mind once it's made up"), then by evidence, longer first.
    kept.sort(key=lambda g: (g not in whole, -scored[g], -len(g), g))
    return kept[:limit]


def emoji_counts(agent_texts: list[str]) -> Counter:
    import emoji

    counts: Counter = Counter()
    for text in agent_texts:
        for match in emoji.emoji_list(text or ""):
            canon = normalize("emoji", match["emoji"])
            if canon:
                counts[canon] += 1
    return counts


def vocative_counts(agent_texts: list[str], language: str) -> Counter:
    counts: Counter = Counter()
    pets = ZH_PET_NAMES if language == "zh" else EN_PET_NAMES
    for text in agent_texts:
        text = _clean(text)
        if language == "zh":
            for m in _ZH_VOCATIVE.finditer(text):
                name = m.group(1) or m.group(2)
                if (name and name not in ZH_STOP and len(name) >= 2 and not name.startswith(_ZH_NOT_NAME_START)
                        and not name.endswith(_ZH_NOT_NAME_END)):
                    counts[name] += 1
            for pet in pets:
                # At a clause edge only: "当老师这么多年" mentions a teacher, "老师，…" addresses one.
                if re.search(rf"(?:^|[，,。！!？?～~\s]){pet}|{pet}(?:[，,。！!？?～~]|$)", text):
                    counts[pet] += 2  # a known pet name is stronger evidence than position alone
        else:
            low = text.lower()
            for m in _EN_VOCATIVE.finditer(low):
                name = m.group(1) or m.group(2)
                if name and name not in EN_STOP and name not in EN_NOT_NAMES and len(name) >= 2:
                    counts[name] += 1
            for pet in pets:
                if re.search(rf"\b{pet}\b", low):
                    counts[pet] += 2
    return counts


def hobby_counts(agent_texts: list[str], language: str) -> Counter:
    counts: Counter = Counter()
    for text in agent_texts:
        text = _clean(text)
        if language == "zh":
            for m in _ZH_HOBBY.finditer(text):
                span = m.group(1) or m.group(2)
                hits = [h for h in ZH_HOBBIES if h in span]
                # "打羽毛球" keeps its verb; "画画和" is cut back to the lexicon word.
                counts[span if span in ZH_HOBBIES or not hits or span.endswith(hits[0]) else hits[0]] += 2
            for h in ZH_HOBBIES:
                if h in text and h not in _TOPIC_CUES:
                    counts[h] += 1
        else:
            low = text.lower()
            for m in _EN_HOBBY.finditer(low):
                span = (m.group(1) or m.group(2)).strip()
                first = span.split()[0]
                counts[first if first in EN_HOBBIES and m.group(1) else span] += 2
            for h in EN_HOBBIES:
                if h not in _TOPIC_CUES and re.search(rf"\b{h}\b", low):
                    counts[h] += 1
    return counts


def topic_counts(texts: list[str]) -> Counter:
    """Topic cue words found in c and x (the span itself is the value: "dinner", "考试")."""
    counts: Counter = Counter()
    for text in texts:
        low = _clean(text).lower()
        for cues in TOPICS.values():
            for cue in cues:
                if (cue in low) if not cue.isascii() else re.search(rf"\b{re.escape(cue)}\b", low):
                    counts[cue] += 1
    return counts


@dataclass
class AgentEvidence:
    """What one agent does across the batch: how many of its texts show each value."""

    phrases: Counter
    emojis: Counter
    vocatives: Counter
    hobbies: Counter


def agent_evidence(texts: list[str], language: str) -> AgentEvidence:
    texts = list(dict.fromkeys(texts))
    per_text = [(emoji_counts([t]), vocative_counts([t], language), hobby_counts([t], language)) for t in texts]
    return AgentEvidence(
        phrase_counts(texts, language),
        sum((Counter(set(e)) for e, _, _ in per_text), Counter()),
        sum((Counter(set(v)) for _, v, _ in per_text), Counter()),
        sum((Counter(set(h)) for _, _, h in per_text), Counter()),
    )


def _by_evidence(here: Counter, agent: Counter | None, limit: int = MAX_CANDIDATES) -> list[str]:
    # Values this item shows, ranked by how often the agent shows them across the batch.
    if agent is None:
        return _rank(here, limit)
    return _rank(Counter({k: agent.get(k, 0) * 100 + c for k, c in here.items()}), limit)


def _cut(text: str, spans: list[str]) -> str:
    for span in spans:
        text = re.sub(re.escape(span), " | ", text, flags=re.IGNORECASE)
    return text


def find_candidates(agent_texts: list[str], all_texts: list[str], language: str,
                    agent: AgentEvidence | None = None, others: AgentEvidence | None = None) -> dict[str, list[str]]:
    """Candidate values per open dimension, best first; an empty list means only null is allowed.

    ``agent``/``others``: evidence across the batch for this agent / every other agent; without
    them only this item's text counts (a catchphrase must then repeat inside it).
    """
    nick = _by_evidence(vocative_counts(agent_texts, language), agent and agent.vocatives)
    lexicon = ZH_HOBBIES if language == "zh" else EN_HOBBIES
    hobby = _by_evidence(hobby_counts(agent_texts, language), agent and agent.hobbies, limit=99)
    # Spans with a known hobby word first: "baking sourdough" before "meeting new" (people).
    hobby = sorted(hobby, key=lambda h: not any(w in h for w in lexicon))[:MAX_CANDIDATES]
    # A repeated phrase that is just the agent's nickname or hobby mention is not its catchphrase:
    # cut those spans out before looking for phrases.
    cut = [_cut(t, nick[:1] + hobby[:1]) for t in agent_texts]
    phrases = repeated_ngrams(cut, language, MAX_CANDIDATES, agent and agent.phrases, others and others.phrases)
    return {
        "catchphrase": phrases,
        "emoji": _by_evidence(emoji_counts(agent_texts), agent and agent.emojis),
        "nickname": nick,
        "hobby": hobby,
        "topic": _rank(topic_counts(all_texts)),
    }
