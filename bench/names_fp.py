"""False-positive cost of the cue-free name detection on real corpora (issue #26).

    .venv/bin/python bench/names_fp.py [--limit 1000] [--show 40] [--sweep]

For each corpus in ../shared/data (DailyDialog test, ConvAI2 wild, LCCC toy train, CPED test), the
share of utterances with a NAME finding with the cue-free detection off (before) and on (after),
and the utterances it newly flags. ``--show N`` prints a seeded sample of N newly flagged
utterances with the flagged span in [[ ]] for a person to judge (name or not); the FP rate is
(newly flagged that are not names) / utterances, estimated from that sample. ``--sweep`` counts the
newly flagged en utterances per (MIN_NAME_SCORE, WORD_ZIPF) pair, the thresholds' trade-off on clean
text. Nothing from the corpora is written anywhere.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPORA = {"dailydialog": ("dailydialog_en", {"split": "test"}), "convai2": ("convai2_wild_en", {}),
           "lccc": ("lccc_toy_zh", {"split": "train"}), "cped": ("cped_zh", {"split": "test"})}


def corpus_texts(corpus: str, limit: int) -> tuple[list[str], str]:
    from vvae_pipeline.ingest.adapters import read_sessions

    folder, kwargs = CORPORA[corpus]
    sessions = read_sessions(corpus, SHARED / folder, limit=limit, **kwargs)
    return [t["text"] for s in sessions for t in s["turns"]], sessions[0]["language"]


def name_spans(scrubber, texts: list[str], lang: str) -> list[list[tuple[int, int]]]:
    return [
        [(f.start, f.end) for f in fs if f.entity == "NAME"] for fs in scrubber.find(texts, lang, [None] * len(texts))
    ]


def flagged(cue_free: bool, texts: list[str], lang: str) -> list[list[tuple[int, int]]]:
    from vvae_pipeline.scrub import names, zh_names
    from vvae_pipeline.scrub.engine import Scrubber

    names.CUE_FREE = zh_names.CUE_FREE = cue_free
    try:
        return name_spans(Scrubber(), texts, lang)
    finally:
        names.CUE_FREE = zh_names.CUE_FREE = True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000, help="sessions per corpus")
    ap.add_argument("--show", type=int, default=0, help="newly flagged utterances to print per corpus")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--corpora", default=",".join(CORPORA))
    args = ap.parse_args(argv)
    for corpus in args.corpora.split(","):
        texts, lang = corpus_texts(corpus, args.limit)
        before, after = flagged(False, texts, lang), flagged(True, texts, lang)
        new = [k for k, (b, a) in enumerate(zip(before, after)) if set(a) - set(b)]
        n, nb, na = len(texts), sum(map(bool, before)), sum(map(bool, after))
        print(f"{corpus} ({lang}, {n} utterances): NAME before {nb} ({nb / n:.2%}), after {na} ({na / n:.2%}), "
              f"newly flagged {len(new)} ({len(new) / n:.2%})")
        for k in sorted(random.Random(0).sample(new, min(args.show, len(new)))):
            t, spans = texts[k], sorted(set(after[k]) - set(before[k]))
            for s, e in reversed(spans):
                t = t[:s] + "[[" + t[s:e] + "]]" + t[e:]
            print(f"  {k}: {t[:200]}")
        if args.sweep and lang == "en":
            sweep(texts, before)
    return 0


def sweep(texts, before) -> None:
    from vvae_pipeline.scrub import names

    saved = names.MIN_NAME_SCORE, names.WORD_ZIPF
    try:
        for score in (-5.5, -6.0, -6.5, -7.0):
            row = []
            for zipf in (3.5, 4.0, 4.5, 9.0):
                names.MIN_NAME_SCORE, names.WORD_ZIPF = score, zipf
                names.given_names.cache_clear()
                after = flagged(True, texts, "en")
                row.append(f"zipf {zipf}: {sum(1 for b, a in zip(before, after) if set(a) - set(b))}")
            print(f"    MIN_NAME_SCORE {score}: newly flagged " + ", ".join(row))
    finally:
        names.MIN_NAME_SCORE, names.WORD_ZIPF = saved
        names.given_names.cache_clear()


if __name__ == "__main__":
    raise SystemExit(main())
