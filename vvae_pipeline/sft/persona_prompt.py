"""The persona z rendered as a system message, and the chat ``messages`` of one SFT example.

Template (docs/persona_template.md shows it whole): a header line, then one line per axis that
has at least one value, each listing its non-null dimensions in latent-space order. No values
at all, no system message. Chinese sessions get the Chinese template, with closed values
translated; open values (catchphrase, nickname, topic, hobby, emoji) are shown as extracted.

Messages are plain (role, content) pairs: system (if any), the history with the agent as
``assistant`` and the user as ``user``, then the target reply x as the final ``assistant``
turn, so any chat template can be applied at training time.

A reply with nothing before it (the agent opens the session: the corpus adapters annotate every
agent turn, the first one included) gets one opening ``user`` turn, ``OPENING_TURN`` in the
session's language, in place of the empty history. Without it an FT row with no persona is a lone
assistant message, whose prompt is an empty conversation that chat templates refuse to render; with
it every variant, at training and at test time (evaluate.deployment_persona builds its prompts here too),
shows the model the same defined prompt for a first turn.
"""

from __future__ import annotations

import polars as pl

from vvae_pipeline.latent import (
    AXES,
    BY_NAME,
    DIMENSION_NAMES,
    INTERACTION,
    PERSONAL,
    TALKING_STYLE,
)

TEMPLATE_VERSION = "persona-v1"

HEADER = {
    "en": "You are chatting with someone. Reply as the person described below, in their own voice.",
    "zh": "你正在和别人聊天。请以下面描述的这个人的身份和口吻回复。",
}
AXIS_LABEL = {
    "en": {TALKING_STYLE: "Talking style", INTERACTION: "Interaction", PERSONAL: "Personal"},
    "zh": {TALKING_STYLE: "说话风格", INTERACTION: "互动", PERSONAL: "个人"},
}
AXIS_SEP = {"en": ": ", "zh": "："}
FIELD_SEP = {"en": "; ", "zh": "；"}
# One format per dimension; "{}" is the value.
FIELD = {
    "en": {"catchphrase": 'catchphrase "{}"', "emoji": "emoji {}", "tone": "tone {}",
           "nickname": 'you call them "{}"', "relationship": "relationship {}", "vibe": "vibe {}",
           "topic": "topic {}", "personality": "personality {}", "hobby": "hobby {}"},
    "zh": {"catchphrase": "口头禅“{}”", "emoji": "常用表情 {}", "tone": "语气 {}",
           "nickname": "你称呼对方“{}”", "relationship": "关系 {}", "vibe": "氛围 {}",
           "topic": "话题 {}", "personality": "性格 {}", "hobby": "爱好 {}"},
}
# Closed values in Chinese; English shows the canonical value with "_" as a space.
ZH_VALUES = {
    "tone": {"cheerful": "开朗", "gentle": "温柔", "playful": "俏皮", "sarcastic": "讽刺", "calm": "平静",
             "enthusiastic": "热情", "formal": "正式", "casual": "随意", "cold": "冷淡", "humorous": "幽默"},
    "relationship": {"stranger": "陌生人", "acquaintance": "熟人", "friend": "朋友", "close_friend": "好朋友",
                     "lover": "恋人", "family": "家人", "colleague": "同事", "classmate": "同学",
                     "mentor": "师长", "enemy": "对手"},
    "vibe": {"warm": "温暖", "playful": "轻松有趣", "flirty": "暧昧", "supportive": "支持", "teasing": "调侃",
             "tense": "紧张", "melancholic": "忧郁", "neutral": "平淡"},
    "personality": {"outgoing": "外向", "introverted": "内向", "caring": "体贴", "humorous": "幽默",
                    "optimistic": "乐观", "pessimistic": "悲观", "stubborn": "固执", "shy": "害羞",
                    "confident": "自信", "tsundere": "傲娇"},
}
MESSAGE = pl.Struct({"role": pl.Utf8, "content": pl.Utf8})
# The user turn that stands in for an empty history (the agent speaks first). Bracketed so it reads
# as a stage direction, not as something a user typed.
OPENING_TURN = {"en": "[The conversation starts. You speak first.]", "zh": "[对话开始，由你先开口。]"}
ROLE_MAP = {"user": "user", "agent": "assistant"}


def _shown(dim: str, lang: str) -> pl.Expr:
    value = pl.col(dim)
    if BY_NAME[dim].closed:
        value = (value.replace_strict(ZH_VALUES[dim], default=value, return_dtype=pl.Utf8) if lang == "zh"
                 else value.str.replace_all("_", " ", literal=True))
    return pl.format(FIELD[lang][dim], value)  # null value -> null field


def _system_for(lang: str) -> pl.Expr:
    lines = []
    for axis in AXES:
        fields = [_shown(d, lang) for d in DIMENSION_NAMES if BY_NAME[d].axis == axis]
        body = pl.concat_str(fields, separator=FIELD_SEP[lang], ignore_nulls=True)
        lines.append(pl.when(body != "").then(pl.lit(AXIS_LABEL[lang][axis] + AXIS_SEP[lang]) + body))
    any_value = pl.any_horizontal([pl.col(d).is_not_null() for d in DIMENSION_NAMES])
    return pl.when(any_value).then(pl.concat_str([pl.lit(HEADER[lang]), *lines], separator="\n",
                                                 ignore_nulls=True))


def with_system(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` plus ``system``, the persona system message (null when the row shows no value).

    Needs the nine dimension columns and ``language``. Each language's template runs on its own
    rows only (half the work of a when/otherwise over both); rows come back grouped by language.
    """
    unknown = set(df.get_column("language").unique().to_list()) - set(HEADER)
    if unknown:
        raise ValueError(f"no persona template for languages {sorted(map(str, unknown))}; have {sorted(HEADER)}")
    parts = [df.filter(pl.col("language") == lang).with_columns(system=_system_for(lang)) for lang in HEADER]
    return pl.concat(parts)


def render_system(persona: dict[str, str | None], language: str = "en") -> str | None:
    """One persona rendered the same way, for docs, prompts at inference time and tests."""
    row = pl.DataFrame({**{d: [persona.get(d)] for d in DIMENSION_NAMES}, "language": [language]},
                       schema={**{d: pl.Utf8 for d in DIMENSION_NAMES}, "language": pl.Utf8})
    return with_system(row).item(0, "system")


def with_messages(df: pl.DataFrame, system: str = "system") -> pl.DataFrame:
    """``df`` plus ``messages``: [system?] + history (agent -> assistant) + final assistant ``reply``.

    Needs ``context`` (list of {role, text}), ``reply`` and the (nullable) ``system`` column; a row whose
    context holds no turn with text gets ``OPENING_TURN`` (in its ``language``, English when the frame has no
    such column) as its history. Built as one long (row, role, content) frame aggregated once: ``list.eval``
    over structs and ``concat_list`` of struct lists cost 28 s and 10 s for 1M rows of 3 turns; this costs
    ~4 s.
    """
    lang = pl.col("language") if "language" in df.columns else pl.lit("en")
    base = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "context", system, "reply",
                     lang.alias("_lang"))
    history = (
        base.select("_row", "context").explode("context").drop_nulls("context").unnest("context")
        .select("_row", pl.col("role").replace_strict(ROLE_MAP, default=None, return_dtype=pl.Utf8),
                pl.col("text").alias("content"))
        .filter(pl.col("content").is_not_null())  # a turn with no text says nothing; trainers reject it
    )
    sys_turn = base.filter(pl.col(system).is_not_null()).select("_row", role=pl.lit("system"),
                                                                  content=pl.col(system))
    opening = base.join(history.select("_row").unique(), on="_row", how="anti").select(
        "_row", role=pl.lit("user"),
        content=pl.col("_lang").replace_strict(OPENING_TURN, default=OPENING_TURN["en"], return_dtype=pl.Utf8))
    target = base.select("_row", role=pl.lit("assistant"), content=pl.col("reply"))
    # group_by keeps row order within each group, so each list reads system, history (or the
    # opening turn), target.
    msgs = (pl.concat([sys_turn, opening, history, target]).group_by("_row")
            .agg(pl.struct("role", "content").alias("messages")))
    return (df.with_row_index("_row").join(msgs, on="_row", how="left", maintain_order="left")
            .with_columns(pl.col("messages").cast(pl.List(MESSAGE))).drop("_row"))
