"""DialogBench-format multiple-choice evaluation, with converters from real labelled corpora.

Item format (JSON Lines, one item per line), as DialogBench: ``id``, ``domain``, ``query``,
``history`` (list of {"speaker", "text"}), ``choices`` (list of strings), ``label`` (the letter of
the correct choice, "A".."Z"); we add ``task`` (ED, IC, ...) and ``language``. DialogBench's own
files are not obtainable here, so ``convert_*`` build the same format from ../shared/data:
DailyDialog emotions -> ED (en), DailyDialog dialogue acts -> IC (en), CPED emotions -> ED (zh).

Scoring: the prompt lists the options under letters; a model's score for an option is the
log-probability of its letter as the first answer token (renormalised over the n letters).
Small models prefer some letters whatever the content (position bias), so every item is asked
n times with the options rotated through every position (rotation r puts choice i at letter
(i + r) mod n); the prediction is the choice with the highest mean log-probability over the
rotations (a tie, as from a model that picks one letter whatever the content, counts as wrong).
We report that de-biased accuracy, the plain accuracy averaged over rotations, and
how often each letter was picked (uniform = no position bias).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from vvae_pipeline.llm.generation import progress_due

log = logging.getLogger(__name__)
LETTERS = "ABCDEFGHIJ"
DD_EMOTIONS = ("no emotion", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
DD_ACTS = {1: "inform", 2: "question", 3: "directive", 4: "commissive"}
CPED_EMOTIONS_ZH = {
    "neutral": "平静", "happy": "高兴", "relaxed": "放松", "grateful": "感激", "positive-other": "其他正面情绪",
    "anger": "愤怒", "depress": "沮丧", "sadness": "悲伤", "worried": "担心", "fear": "害怕",
    "disgust": "厌恶", "astonished": "惊讶", "negative-other": "其他负面情绪",
}
_QUERY = {
    ("ED", "en"): "Which emotion does the speaker of the last utterance express?",
    ("IC", "en"): "What is the intent (dialogue act) of the last utterance?",
    ("ED", "zh"): "最后一句话的说话人表达了什么情绪？",
}
_TEMPLATE = {
    "en": "Read the dialogue and answer the question with the letter of the correct option.\n\n"
          "Dialogue:\n{history}\n\nQuestion: {query}\nOptions:\n{options}\nAnswer:",
    "zh": "阅读对话并回答问题，只回答正确选项的字母。\n\n对话：\n{history}\n\n问题：{query}\n选项：\n{options}\n答案：",
}


# -- reading and writing --------------------------------------------------------------------


def read_jsonl(path: str | Path) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            items.append(check_item(item, where=f"{path}:{n}"))
    return items


def write_jsonl(items: Sequence[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


def check_item(item: dict, where: str = "item") -> dict:
    """Validate one item; ``label`` may be a letter, an index or the correct choice's text."""
    for key in ("id", "query", "history", "choices", "label"):
        if key not in item:
            raise ValueError(f"{where}: missing field {key!r}")
    choices = item["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= len(LETTERS):
        raise ValueError(f"{where}: choices must be a list of 2..{len(LETTERS)} options")
    label = item["label"]
    if isinstance(label, int) and 0 <= label < len(choices):
        index = label
    elif isinstance(label, str) and len(label) == 1 and label.upper() in LETTERS[: len(choices)]:
        index = LETTERS.index(label.upper())
    elif label in choices:
        index = choices.index(label)
    else:
        raise ValueError(f"{where}: label {label!r} names none of the {len(choices)} choices")
    history = [h if isinstance(h, dict) else {"speaker": "", "text": str(h)} for h in item["history"]]
    return {**item, "history": history, "label": LETTERS[index],
            "task": item.get("task") or str(item["id"]).split("-")[0].upper(),
            "language": item.get("language", "en"), "domain": item.get("domain", "")}


# -- rotation and scoring -------------------------------------------------------------------


def rotate(choices: Sequence[str], r: int) -> list[str]:
    """Rotation r: the option at letter j is choice (j - r) mod n, i.e. choice i moves to (i + r) mod n."""
    n = len(choices)
    return [choices[(j - r) % n] for j in range(n)]


def render(item: dict, choices: Sequence[str]) -> list[dict]:
    lang = "zh" if item.get("language") == "zh" else "en"
    history = "\n".join(f"{h.get('speaker') or '?'}: {h['text']}" for h in item["history"])
    options = "\n".join(f"{LETTERS[j]}. {c}" for j, c in enumerate(choices))
    return [{"role": "user", "content": _TEMPLATE[lang].format(history=history, query=item["query"], options=options)}]


LetterScorer = Callable[[Sequence[list[dict]], int], list[list[float]]]


def evaluate(items: Sequence[dict], score_letters: LetterScorer) -> dict:
    """Accuracy per task with every option rotated through every position.

    ``score_letters(prompts, n)`` gets the n rotated prompts of ONE item (they share everything up
    to the options, which a scorer may compute once) and returns, per prompt, the
    log-probabilities of letters A.. for the n options.
    Returns {"tasks": {"ED-en": {...}}, "items": [one dict per item]}.
    """
    import math

    per_item: list[dict] = []
    sums = [[0.0] * len(i["choices"]) for i in items]
    hits = [0] * len(items)
    picked_pos: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        n = len(item["choices"])
        scores = score_letters([render(item, rotate(item["choices"], r)) for r in range(n)], n)
        if len(scores) != n:
            raise ValueError(f"scorer returned {len(scores)} rows for {n} rotations of {item['id']}")
        for r, s in enumerate(scores):
            letters = list(s[:n])
            z = math.log(sum(math.exp(v) for v in letters))
            pos = max(range(n), key=lambda j: letters[j])
            picked_pos.setdefault(item["task"] + "-" + item["language"], [0] * len(LETTERS))[pos] += 1
            for j in range(n):
                sums[k][(j - r) % n] += letters[j] - z  # letter j shows choice (j - r) mod n
            hits[k] += int((pos - r) % n == LETTERS.index(item["label"]))
        if progress_due(k + 1, k, len(items)):  # counts only, never item text
            log.info("dialogbench: %d/%d items scored", k + 1, len(items))
    tasks: dict[str, dict] = {}
    for k, item in enumerate(items):
        n = len(item["choices"])
        gold = LETTERS.index(item["label"])
        pred = max(range(n), key=lambda i: sums[k][i])
        if sum(1 for v in sums[k] if v >= sums[k][pred] - 1e-6) > 1:
            pred = -1  # a tie (e.g. a model that picks one letter whatever the content) is no answer
        per_item.append({"id": item["id"], "gold": item["choices"][gold],
                         "pred": item["choices"][pred] if pred >= 0 else None, "correct": pred == gold,
                         "rotations_correct": hits[k], "n_rotations": n})
        t = tasks.setdefault(item["task"] + "-" + item["language"], {"n": 0, "debiased": 0, "per_rotation": 0.0,
                                                                     "chance": 0.0, "all_rotations": 0})
        t["n"] += 1
        t["debiased"] += int(pred == gold)
        t["per_rotation"] += hits[k] / n
        t["chance"] += 1 / n
        t["all_rotations"] += int(hits[k] == n)
    for key, t in tasks.items():
        n_items = t["n"]
        t.update(accuracy=t.pop("debiased") / n_items, accuracy_per_rotation=t.pop("per_rotation") / n_items,
                 chance=t["chance"] / n_items, consistent=t.pop("all_rotations") / n_items,
                 picked_position=picked_pos[key][: max(len(i["choices"]) for i in items)])
    return {"tasks": tasks, "items": per_item}


def hf_letter_scorer(model, tokenizer) -> LetterScorer:
    """Letter log-probabilities from a transformers model, the shared prefix computed once.

    The rotated prompts of one item differ only from the options on, so the prefix (instruction,
    dialogue, question: ~80% of the ~150-250 tokens) runs once, its KV cache is repeated for the
    n rotations and only the n suffixes run as one right-padded batch: ~3x fewer tokens than n
    full prompts. A letter's score is the log-sum-exp over its first-token spellings ("A", " A").
    """
    import os

    import torch

    cache_ids: dict[int, list[list[int]]] = {}

    def letter_ids(n: int) -> list[list[int]]:
        if n not in cache_ids:
            cache_ids[n] = [sorted({tokenizer.encode(v, add_special_tokens=False)[0] for v in (letter, " " + letter)})
                            for letter in LETTERS[:n]]
        return cache_ids[n]

    def score(prompts: Sequence[list[dict]], n: int) -> list[list[float]]:
        ids = letter_ids(n)
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
        common = os.path.commonprefix(texts)
        cut = common.rfind("\n") + 1 if len(texts) > 1 else 0  # token boundaries are stable at a newline
        prefix = tokenizer(texts[0][:cut], add_special_tokens=False, return_tensors="pt")["input_ids"]
        suffixes = [tokenizer(t[cut:], add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(x) for x in suffixes)
        pad = tokenizer.pad_token_id
        batch = torch.tensor([x + [pad] * (width - len(x)) for x in suffixes])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in suffixes])
        with torch.inference_mode():
            past = None
            if prefix.shape[1]:
                past = model(input_ids=prefix.to(model.device), use_cache=True).past_key_values
                past.batch_repeat_interleave(len(texts))
                mask = torch.cat([torch.ones(len(texts), prefix.shape[1], dtype=mask.dtype), mask], dim=1)
            logits = model(input_ids=batch.to(model.device), attention_mask=mask.to(model.device),
                           past_key_values=past, use_cache=past is not None).logits
        out = []
        for row, x in zip(logits, suffixes, strict=True):
            logp = torch.log_softmax(row[len(x) - 1].float(), dim=-1)
            out.append([float(torch.logsumexp(logp[i], dim=0)) for i in ids])
        return out

    return score
