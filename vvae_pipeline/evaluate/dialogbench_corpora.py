"""DialogBench-format items built from real labelled corpora (DialogBench's own files are not
obtainable here): DailyDialog emotions -> ED (en), DailyDialog dialogue acts -> IC (en), CPED
emotions -> ED (zh). Each converter samples ``items_per_task`` items, stratified by label, seeded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from vvae_pipeline.evaluate.dialogbench import (
    _QUERY,
    CPED_EMOTIONS_ZH,
    DD_ACTS,
    DD_EMOTIONS,
    LETTERS,
)
from vvae_pipeline.params import DialogBenchParams


def _options(correct: str, labels: Sequence[str], n: int, rng: random.Random) -> tuple[list[str], str]:
    distractors = [lab for lab in labels if lab != correct]
    rng.shuffle(distractors)
    choices = [correct, *distractors[: n - 1]]
    rng.shuffle(choices)
    return choices, LETTERS[choices.index(correct)]


def _stratified(candidates: list[tuple], key: Callable[[tuple], str], k: int, rng: random.Random) -> list[tuple]:
    """k candidates, drawn round-robin over labels so rare labels are represented."""
    by_label: dict[str, list[tuple]] = {}
    for c in candidates:
        by_label.setdefault(key(c), []).append(c)
    for group in by_label.values():
        rng.shuffle(group)
    labels = sorted(by_label)
    picked: list[tuple] = []
    while len(picked) < k and any(by_label.values()):
        for lab in labels:
            if by_label[lab] and len(picked) < k:
                picked.append(by_label[lab].pop())
    return picked


def _dailydialog(root: Path, split: str, label_file: str) -> list[tuple[list[str], list[int]]]:
    base = root / "dailydialog_en" / split
    texts = (base / f"dialogues_{split}.txt").read_text(encoding="utf-8").splitlines()
    labels = (base / f"dialogues_{label_file}_{split}.txt").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise ValueError(f"{base}: {len(texts)} dialogues but {len(labels)} label lines")
    out = []
    for text, lab in zip(texts, labels, strict=True):
        turns = [t.strip() for t in text.split("__eou__") if t.strip()]
        ids = [int(x) for x in lab.split()]
        if len(turns) == len(ids):  # a few lines disagree in the corpus; skip those dialogues
            out.append((turns, ids))
    return out


def _dd_items(root: Path, task: str, names: dict[int, str], params: DialogBenchParams, split: str) -> list[dict]:
    dialogues = _dailydialog(root, split, "emotion" if task == "ED" else "act")
    rng = random.Random(f"{params.seed}:{task}:en")
    candidates = [(d, t, names[ids[t]]) for d, (turns, ids) in enumerate(dialogues) for t in range(len(turns))]
    items = []
    for d, t, label in _stratified(candidates, lambda c: c[2], params.items_per_task, rng):
        turns = dialogues[d][0]
        start = max(0, t + 1 - params.history_turns)
        history = [{"speaker": "AB"[i % 2], "text": turns[i][: params.max_chars_per_turn]} for i in range(start, t + 1)]
        choices, letter = _options(label, list(names.values()), params.n_choices, rng)
        items.append({"id": f"{task.lower()}-en-{split}-{d}-{t}", "task": task, "language": "en",
                      "domain": "dailydialog", "query": _QUERY[(task, "en")], "history": history,
                      "choices": choices, "label": letter})
    return items


def convert_dailydialog_emotions(root: str | Path, params: DialogBenchParams, split: str = "test") -> list[dict]:
    return _dd_items(Path(root), "ED", dict(enumerate(DD_EMOTIONS)), params, split)


def convert_dailydialog_acts(root: str | Path, params: DialogBenchParams, split: str = "test") -> list[dict]:
    return _dd_items(Path(root), "IC", DD_ACTS, params, split)


def convert_cped_emotions(root: str | Path, params: DialogBenchParams, split: str = "test") -> list[dict]:
    import polars as pl

    path = Path(root) / "cped_zh" / f"{split}_split.csv"
    df = pl.read_csv(path, columns=["Dialogue_ID", "Utterance_ID", "Speaker", "Emotion", "Utterance"])
    unknown = set(df["Emotion"].unique().to_list()) - set(CPED_EMOTIONS_ZH)
    if unknown:
        raise ValueError(f"{path}: emotion labels without a zh name: {sorted(unknown)}")
    dialogues = [g.sort("Utterance_ID") for _, g in df.group_by("Dialogue_ID", maintain_order=True)]
    rng = random.Random(f"{params.seed}:ED:zh")
    candidates = [(d, t, CPED_EMOTIONS_ZH[e]) for d, g in enumerate(dialogues) for t, e in enumerate(g["Emotion"])]
    items = []
    for d, t, label in _stratified(candidates, lambda c: c[2], params.items_per_task, rng):
        g = dialogues[d]
        start = max(0, t + 1 - params.history_turns)
        history = [{"speaker": str(s), "text": str(u)[: params.max_chars_per_turn]}
                   for s, u in zip(g["Speaker"][start : t + 1], g["Utterance"][start : t + 1], strict=True)]
        choices, letter = _options(label, list(CPED_EMOTIONS_ZH.values()), params.n_choices, rng)
        items.append({"id": f"ed-zh-{split}-{g['Dialogue_ID'][0]}-{t}", "task": "ED", "language": "zh",
                      "domain": "cped", "query": _QUERY[("ED", "zh")], "history": history,
                      "choices": choices, "label": letter})
    return items


CONVERTERS: dict[str, Callable[[str | Path, DialogBenchParams], list[dict]]] = {
    "ed_en": convert_dailydialog_emotions,
    "ic_en": convert_dailydialog_acts,
    "ed_zh": convert_cped_emotions,
}


def load_items(root: Path | None, params: DialogBenchParams) -> tuple[list[dict], str]:
    """Items of every task in ``params.tasks`` from the corpora under ``root``; (items, why none)."""
    if root is None or not Path(root).is_dir():
        return [], f"no corpora folder ({root or 'none configured'}; StorageResource.corpora)"
    unknown = [t for t in params.tasks if t not in CONVERTERS]
    if unknown:
        raise ValueError(f"unknown DialogBench tasks {unknown}; known: {sorted(CONVERTERS)}")
    items, missing = [], []
    for task in params.tasks:
        try:
            items += CONVERTERS[task](Path(root), params)
        except FileNotFoundError as exc:
            missing.append(f"{task}: {Path(exc.filename or '').name or exc}")
    return items, "" if items else f"missing corpus files ({'; '.join(missing)})"
