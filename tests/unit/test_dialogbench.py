"""DialogBench format: converters on the real corpora, rotation math, scoring on SmolLM2."""

import json

import pytest

from vvae_pipeline.evaluate import dialogbench as db
from vvae_pipeline.evaluate import dialogbench_corpora as corpora
from vvae_pipeline.params import DialogBenchParams


@pytest.fixture(scope="module")
def params():
    return DialogBenchParams(items_per_task=6, seed=3)


def test_dailydialog_emotions(shared_data, params):
    items = corpora.convert_dailydialog_emotions(shared_data, params)
    assert len(items) == 6
    # Stratified over labels: six distinct emotions among seven, not six times "no emotion".
    golds = [i["choices"][db.LETTERS.index(i["label"])] for i in items]
    assert len(set(golds)) == 6 and set(golds) <= set(db.DD_EMOTIONS)
    for item in items:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        assert 1 <= len(item["history"]) <= params.history_turns and item["language"] == "en"
    # The gold label is the corpus's label for the last utterance of the history.
    _, d, t = items[0]["id"].rsplit("-", 2)
    root = shared_data / "dailydialog_en" / "test"
    turns = root.joinpath("dialogues_test.txt").read_text().splitlines()[int(d)].split("__eou__")
    labels = root.joinpath("dialogues_emotion_test.txt").read_text().splitlines()[int(d)].split()
    assert items[0]["history"][-1]["text"] == turns[int(t)].strip()
    assert golds[0] == db.DD_EMOTIONS[int(labels[int(t)])]


def test_dailydialog_acts_and_cped(shared_data, params):
    ic = corpora.convert_dailydialog_acts(shared_data, params)
    assert {i["task"] for i in ic} == {"IC"} and all(sorted(i["choices"]) == sorted(db.DD_ACTS.values()) for i in ic)
    zh = corpora.convert_cped_emotions(shared_data, params)
    assert len(zh) == 6 and all(i["language"] == "zh" for i in zh)
    assert all(i["choices"][db.LETTERS.index(i["label"])] in db.CPED_EMOTIONS_ZH.values() for i in zh)
    # Same seed, same items; another seed, other items.
    assert corpora.convert_cped_emotions(shared_data, params) == zh
    assert corpora.convert_cped_emotions(shared_data, DialogBenchParams(items_per_task=6, seed=4)) != zh


def test_jsonl_roundtrip_and_errors(tmp_path, shared_data, params):
    items = corpora.convert_dailydialog_acts(shared_data, params)
    db.write_jsonl(items, tmp_path / "ic.jsonl")
    assert db.read_jsonl(tmp_path / "ic.jsonl") == items
    # DialogBench files may give the label as the choice text or an index: normalised to a letter.
    item = {"id": "ic-1", "query": "q", "history": ["hi"], "choices": ["x", "y", "z"], "label": "z"}
    assert db.check_item(item)["label"] == "C" and db.check_item({**item, "label": 1})["label"] == "B"
    (tmp_path / "bad.jsonl").write_text(json.dumps({**item, "label": "w"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: label 'w'"):
        db.read_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="missing field 'choices'"):
        db.check_item({k: v for k, v in item.items() if k != "choices"})


def test_rotation_puts_every_choice_in_every_position():
    choices = ["a", "b", "c", "d"]
    rotations = [db.rotate(choices, r) for r in range(4)]
    for pos in range(4):
        assert sorted(rot[pos] for rot in rotations) == choices
    assert db.rotate(choices, 1) == ["d", "a", "b", "c"]  # choice i moves to letter i + 1


def _item(gold_index: int) -> dict:
    choices = ["red", "green", "blue", "gold"]
    return {
        "id": f"ed-{gold_index}",
        "task": "ED",
        "language": "en",
        "query": "q",
        "history": [{"speaker": "A", "text": "t"}],
        "choices": choices,
        "label": db.LETTERS[gold_index],
    }


def test_evaluate_cancels_position_bias():
    items = [_item(g) for g in (0, 1, 2, 3)]

    def letter_a(prompts, n):  # pure position bias: always letter A, whatever the content
        return [[0.0] + [-5.0] * (n - 1) for _ in prompts]

    res = db.evaluate(items, letter_a)["tasks"]["ED-en"]
    # Without rotation this model scores 25% only by luck of where gold sits; with rotation its
    # per-rotation accuracy is exactly chance and its de-biased answer is a tie (wrong).
    assert res["accuracy_per_rotation"] == pytest.approx(0.25) and res["accuracy"] == 0.0
    assert res["picked_position"] == [16, 0, 0, 0] and res["consistent"] == 0.0

    def knows(prompts, n):  # content-aware: prefers the letter showing the gold text ("gold" colour here)
        out = []
        for p in prompts:
            lines = [ln for ln in p[0]["content"].splitlines() if ln[:2] in {f"{c}." for c in db.LETTERS[:n]}]
            out.append([0.0 if ln.endswith(" gold") else -3.0 for ln in lines])
        return out

    res = db.evaluate(items, knows)["tasks"]["ED-en"]
    assert res["accuracy"] == 0.25 and res["consistent"] == 0.25  # only the item whose gold is "gold"
    assert res["picked_position"] == [4, 4, 4, 4]  # the gold text visits every letter once per item


@pytest.mark.slow
def test_smollm2_scoring_matches_full_forward(shared_data, smollm2_path):
    """The shared-prefix KV-cache scorer gives the same letter log-probs as n full forwards."""
    import torch

    from vvae_pipeline.llm.models import load_causal_lm, load_tokenizer

    tok, model = load_tokenizer(smollm2_path), load_causal_lm(smollm2_path)
    items = corpora.convert_dailydialog_acts(shared_data, DialogBenchParams(items_per_task=1)) + \
        corpora.convert_cped_emotions(shared_data, DialogBenchParams(items_per_task=1))
    scorer = db.hf_letter_scorer(model, tok)
    scored = {}
    for item in items:
        prompts = [db.render(item, db.rotate(item["choices"], r)) for r in range(4)]
        fast = scored[item["id"]] = scorer(prompts, 4)
        for r in (0, 2):  # two full forwards per item keep this test under ~30 s on a busy CPU
            ids = tok(tok.apply_chat_template(prompts[r], tokenize=False, add_generation_prompt=True),
                      add_special_tokens=False, return_tensors="pt")["input_ids"]
            with torch.inference_mode():
                logp = torch.log_softmax(model(input_ids=ids).logits[0, -1], -1)
            letters = [sorted({tok.encode(v, add_special_tokens=False)[0] for v in (c, " " + c)}) for c in "ABCD"]
            full = [float(torch.logsumexp(logp[i], 0)) for i in letters]
            assert fast[r] == pytest.approx(full, abs=1e-3)
    by_prompt = {
        json.dumps(db.render(i, db.rotate(i["choices"], r))): scored[i["id"]][r] for i in items for r in range(4)
    }
    res = db.evaluate(items, lambda prompts, n: [by_prompt[json.dumps(p)] for p in prompts])
    assert set(res["tasks"]) == {"IC-en", "ED-zh"} and all(
        sum(t["picked_position"]) == 4 for t in res["tasks"].values()
    )
