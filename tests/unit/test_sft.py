"""SFT sets: variants, messages, template, agent-disjoint splits, lineage, determinism, card."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.schemas import SFTExample, validate
from vvae_pipeline.sft.build import SFTParams, build_sft, dataset_card
from vvae_pipeline.sft.persona_prompt import HEADER, OPENING_TURN, render_system
from vvae_pipeline.sft.splits import assign_splits
from vvae_pipeline.variants import VARIANT_KEYS

CTX = [
    {"role": "user", "text": "free tonight?"},
    {"role": "agent", "text": "maybe"},
    {"role": "user", "text": "movie?"},
]
ROWS = [
    {"agent_id": "a1", "tone": "calm", "hobby": "hiking", "context": CTX, "reply": "sure, you know"},
    {"agent_id": "a1", "vibe": "warm", "batch_id": "b2", "source_file": "b2.jsonl", "source_line": 7},
    {"agent_id": "a2", "catchphrase": "哈哈哈", "relationship": "friend", "language": "zh"},
    {"agent_id": "a3", "emoji": "😂"},
    {"agent_id": "a4", "status": "failed"},
    {"agent_id": "a5", "personality": "shy", "topic": "work"},
    {"agent_id": "a6", "context": []},
]
FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}


@pytest.fixture(scope="module")
def inputs():
    ext = extraction_frame(ROWS)
    return ext, build_priors(ext)[0]


def _build(inputs, variant="sp_ft", **params):
    ext, priors = inputs
    return build_sft(ext, "smollm2-135m", variant, SFTParams(**{"seed": 0, **params}))


@pytest.mark.parametrize("variant", VARIANT_KEYS)
def test_every_variant_meets_the_contract_and_keeps_lineage(inputs, variant):
    df, stats = _build(inputs, variant)
    assert validate(df, SFTExample).passed
    ext = inputs[0].filter(pl.col("status") != "failed")
    assert sorted(df["extraction_id"]) == sorted(ext["extraction_id"])  # failed extraction left out
    lineage = ["extraction_id", "batch_id", "source_file", "source_line", "session_id", "agent_id"]
    assert df.select(lineage).sort("extraction_id").equals(ext.select(lineage).sort("extraction_id"))
    assert stats["n_failed_skipped"] == 1 and stats["n_examples"] == df.height
    for row in df.iter_rows(named=True):
        msgs, origins = row["messages"], json.loads(row["origins"])
        assert msgs[-1] == {"role": "assistant", "content": row["reply"]}
        shown = [d for d, o in origins.items() if o in ("observed", "sampled")]
        assert (msgs[0]["role"] == "system") == bool(shown)
        if variant == "ft":
            assert set(origins.values()) == {"dropped"} and msgs[0]["role"] != "system"


def test_history_roles_and_final_turn(inputs):
    df, _ = _build(inputs, "p_ft")
    row = df.filter(pl.col("extraction_id") == "e0").row(0, named=True)
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["content"] for m in row["messages"][1:]] == ["free tonight?", "maybe", "movie?", "sure, you know"]
    assert row["messages"][0]["content"] == render_system({"tone": "calm", "hobby": "hiking"}, "en")
    empty = df.filter(pl.col("extraction_id") == "e6").row(0, named=True)
    # No persona, no history: the opening user turn stands in for the history (test_first_turn.py).
    assert empty["messages"] == [{"role": "user", "content": OPENING_TURN["en"]},
                                 {"role": "assistant", "content": "reply 6"}]


def test_blank_replies_and_textless_turns_are_left_out():
    ext = extraction_frame([
        {"agent_id": "a1", "reply": "   "},
        {"agent_id": "a2", "context": [{"role": "user", "text": None}, {"role": "agent", "text": "ok"}]},
    ])
    df, stats = build_sft(ext, "smollm2-135m", "p_ft", SFTParams())
    assert df["extraction_id"].to_list() == ["e1"] and stats["n_blank_reply_skipped"] == 1
    assert df["messages"][0].to_list() == [{"role": "assistant", "content": "ok"},
                                           {"role": "assistant", "content": "reply 1"}]


@pytest.mark.parametrize(("persona", "lang", "lines"), [
    ({"catchphrase": "you know", "relationship": "close_friend", "hobby": "hiking"}, "en",
     [HEADER["en"], 'Talking style: catchphrase "you know"', "Interaction: relationship close friend",
      "Personal: hobby hiking"]),
    ({"catchphrase": "哈哈哈", "tone": "calm", "personality": "tsundere"}, "zh",
     [HEADER["zh"], "说话风格：口头禅“哈哈哈”；语气 平静", "个人：性格 傲娇"]),
    ({"emoji": "😂", "tone": "cold", "nickname": "bro", "vibe": "warm", "topic": "work"}, "en",
     [HEADER["en"], "Talking style: emoji 😂; tone cold", 'Interaction: you call them "bro"; vibe warm; topic work']),
])
def test_persona_template(persona, lang, lines):
    assert render_system(persona, lang).split("\n") == lines


def test_no_persona_renders_no_system_message():
    assert render_system({}, "en") is None and render_system({"tone": None}, "zh") is None


def test_same_seed_same_dataset_bit_for_bit_in_any_input_order(inputs):
    ext, priors = inputs
    a, _ = build_sft(ext, "smollm2-135m", "sp_ft", SFTParams(seed=5, **_fr()))
    b, _ = build_sft(ext.reverse(), "smollm2-135m", "sp_ft", SFTParams(seed=5, **_fr()))
    assert a.equals(b)
    assert _parquet_bytes(a) == _parquet_bytes(b)  # the file the IO manager writes, byte for byte


def _parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def _fr() -> dict:
    return {f"{k}_fraction": v for k, v in FRACTIONS.items()}


def test_splits_are_agent_disjoint_identical_across_variants_and_nonempty(inputs):
    splits = {}
    for variant in VARIANT_KEYS:
        df, stats = _build(inputs, variant, **_fr())
        per_agent = df.group_by("agent_id").agg(pl.col("split").n_unique())
        assert per_agent["split"].max() == 1  # no agent in two splits
        assert all(v["agents"] >= 1 for v in stats["splits"].values())  # 6 agents, every split used
        splits[variant] = dict(df.select("extraction_id", "split").iter_rows())
    assert all(s == splits["ft"] for s in splits.values())


def test_sampling_seed_keeps_the_split_and_split_seed_moves_it():
    ext = extraction_frame([{"agent_id": f"a{i % 12}", "tone": "calm" if i % 3 == 0 else ("cold" if i % 3 == 1
                             else None)} for i in range(60)])
    runs = {(seed, split_seed): build_sft(ext, "smollm2-135m", "sp_ft",
                                          SFTParams(seed=seed, split_seed=split_seed))[0]
            for seed, split_seed in [(0, 0), (1, 0), (0, 1)]}
    assert runs[(0, 0)]["split"].to_list() != [] and runs[(0, 0)].select("extraction_id", "split").equals(
        runs[(1, 0)].select("extraction_id", "split"))
    assert runs[(0, 0)]["tone"].to_list() != runs[(1, 0)]["tone"].to_list()  # 20 sampled tones redrawn
    split_of = [dict(r.select("agent_id", "split").unique().iter_rows()) for r in (runs[(0, 0)], runs[(0, 1)])]
    assert split_of[0] != split_of[1]


@pytest.mark.parametrize("n_agents", [1, 2, 3, 4, 7, 50])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assign_splits_small_populations(n_agents, seed):
    out = assign_splits(pl.Series([f"agent-{i}" for i in range(n_agents)]), {"train": .8, "validation": .1,
                                                                             "test": .1}, seed)
    counts = dict(out.group_by("split").len().iter_rows())
    assert out["agent_id"].n_unique() == out.height == n_agents
    assert counts.get("train", 0) >= 1
    if n_agents >= 2:
        assert counts.get("test", 0) >= 1
    if n_agents >= 3:
        assert counts.get("validation", 0) >= 1


def test_split_of_an_agent_does_not_move_when_others_land():
    fr = {"train": .8, "validation": .1, "test": .1}
    before = dict(assign_splits(pl.Series([f"agent-{i}" for i in range(200)]), fr, 0).iter_rows())
    after = dict(assign_splits(pl.Series([f"agent-{i}" for i in range(400)]), fr, 0).iter_rows())
    assert all(after[a] == s for a, s in before.items())


def test_cap_per_split_keeps_the_same_rows_in_every_variant():
    ext = extraction_frame([{"agent_id": f"a{i % 5}", "tone": "calm" if i % 2 else None} for i in range(30)])
    kept = {}
    for variant in ("ft", "sp_ft"):
        df, _ = build_sft(ext, "smollm2-135m", variant, SFTParams(max_examples_per_split=2, **_fr()))
        assert df.group_by("split").len()["len"].max() <= 2
        kept[variant] = sorted(df["extraction_id"])
    assert kept["ft"] == kept["sp_ft"]


@pytest.mark.parametrize(("change", "error"), [
    (lambda e: pl.concat([e, e.head(1)]), "not unique"),
    (lambda e: e.with_columns(context=pl.lit([{"role": "bot", "text": "x"}], dtype=e.schema["context"])),
     "unknown roles"),
    (lambda e: e.with_columns(language=pl.lit("fr")), "languages"),
])
def test_bad_input_is_a_clear_error(inputs, change, error):
    with pytest.raises(ValueError, match=error):
        build_sft(change(inputs[0]), "smollm2-135m", "sp_ft", SFTParams())


@pytest.mark.parametrize(("backbone", "variant", "params"), [
    ("gpt-9", "sp_ft", {}), ("smollm2-135m", "sp_ft_no_vibes", {}),
])
def test_unknown_backbone_or_variant(inputs, backbone, variant, params):
    with pytest.raises(KeyError):
        build_sft(inputs[0], backbone, variant, SFTParams(**params))


@pytest.mark.parametrize("params", [{"train_fraction": 0.5}, {"test_fraction": -0.1, "train_fraction": 1.0},
                                    {"max_examples_per_split": 0}])
def test_bad_params(params):
    with pytest.raises(ValueError):
        SFTParams(**params)


def test_dataset_card_reports_counts_and_sampled_shares(inputs):
    df, stats = _build(inputs, "sp_ft", **_fr())
    card = dataset_card(stats)
    for split, n in df.group_by("split").len().iter_rows():
        assert f"| {split} | {n} |" in card
    sampled = sum(json.loads(o)["tone"] == "sampled" for o in df["origins"])
    tone_row = next(line for line in card.splitlines() if line.startswith("| talking_style | tone |"))
    cells = [c.strip() for c in tone_row.strip("|").split("|")]
    assert cells[4] == f"{sampled / df.height:.1%}"
    # 1 of the 6 usable rows shows a tone.
    assert cells[2] == f"{5 / 6:.1%}"


def _cped_extractions(path, n_dialogues: int = 40) -> pl.DataFrame:
    """Extraction-shaped rows from real CPED dialogue: each utterance after the first is a reply x
    of its speaker (the agent), with up to 3 earlier turns as context. The Big-Five extraversion
    label stands in for an extracted personality on even rows; odd rows leave it null."""
    d = pl.read_csv(path / "cped_zh" / "valid_split.csv")
    d = d.filter(pl.col("Dialogue_ID").is_in(d["Dialogue_ID"].unique(maintain_order=True).head(n_dialogues)))
    speakers = {s: f"spk-{i}" for i, s in enumerate(d["Speaker"].unique(maintain_order=True))}
    rows = []
    for _, dlg in d.group_by("Dialogue_ID", maintain_order=True):
        turns = dlg.select("Speaker", "Utterance", "Extraversion").rows()
        for i in range(1, len(turns)):
            speaker, text, extraversion = turns[i]
            ctx = [{"role": "agent" if s == speaker else "user", "text": t} for s, t, _ in turns[max(0, i - 3):i]]
            rows.append({"agent_id": speakers[speaker], "language": "zh", "context": ctx, "reply": text,
                         "turn_index": i, "personality": None if len(rows) % 2 else
                         {"high": "outgoing", "low": "introverted"}.get(extraversion)})
    return extraction_frame(rows)


def test_real_cped_dialogue_gives_agent_disjoint_chinese_sft_rows(shared_data):
    ext = _cped_extractions(shared_data)
    df, stats = build_sft(ext, "smollm2-135m", "sp_ft", SFTParams(seed=1))
    assert validate(df, SFTExample).passed and df.height == ext.height
    assert df.group_by("agent_id").agg(pl.col("split").n_unique())["split"].max() == 1
    assert all(v["agents"] >= 1 for v in stats["splits"].values())
    by_id = {r["extraction_id"]: r for r in ext.iter_rows(named=True)}
    for row in df.iter_rows(named=True):
        src = by_id[row["extraction_id"]]
        msgs = row["messages"]
        assert msgs[-1]["content"] == src["reply"]
        assert [m["content"] for m in msgs[1:-1]] == [t["text"] for t in src["context"]]
        assert [m["role"] for m in msgs[1:-1]] == [{"agent": "assistant", "user": "user"}[t["role"]]
                                                   for t in src["context"]]
        shown = {"outgoing": "性格 外向", "introverted": "性格 内向"}[row["personality"]]
        assert msgs[0]["role"] == "system" and shown in msgs[0]["content"]
        if src["personality"] is not None:
            assert row["personality"] == src["personality"]


def test_sampled_values_come_from_the_train_split_only(inputs):
    """A value observed only in validation/test rows is never sampled into any persona, and the
    report rebuilds the same train-split prior from the SFT table."""
    from vvae_pipeline.sft.build import train_prior

    df, stats = _build(inputs, "sp_ft", train_fraction=0.5, validation_fraction=0.25, test_fraction=0.25)
    origins = [json.loads(o) for o in df["origins"].to_list()]
    train_values = {d: set(df.filter(pl.col("split") == "train")[d].drop_nulls().to_list()) for d in DIMENSION_NAMES}
    observed_train = {d: {r[d] for r, o in zip(df.filter(pl.col("split") == "train").to_dicts(),
                                               [o for o, s in zip(origins, df["split"]) if s == "train"])
                          if o[d] == "observed" and r[d]} for d in DIMENSION_NAMES}
    for r, o in zip(df.to_dicts(), origins):
        for d in DIMENSION_NAMES:
            if o[d] == "sampled":
                assert r[d] in observed_train[d], (d, r[d])
    prior = train_prior(df)
    assert prior.height == stats["prior_values_train_split"]
    for d in DIMENSION_NAMES:
        assert set(prior.filter(pl.col("dimension") == d)["value"].to_list()) == observed_train[d] <= train_values[d]


def test_sft_artifacts_read_back_the_scalar_stats(inputs, tmp_path):
    """What sft_dataset writes (SFTArtifacts.stats) is what lora_checkpoint's MLflow run logs: the
    top-level numbers and strings; nested tables stay out, a missing file is no stats."""
    from vvae_pipeline.sft.artifacts import SFTArtifacts

    _, stats = _build(inputs, "ft")
    art = SFTArtifacts(tmp_path)
    assert art.scalar_stats() == {}
    art.stats.write_text(json.dumps(stats))
    scalars = art.scalar_stats()
    assert scalars["n_examples"] == stats["n_examples"] and "splits" not in scalars
    assert set(scalars) == {k for k, v in stats.items() if not isinstance(v, dict | list | type(None))}
