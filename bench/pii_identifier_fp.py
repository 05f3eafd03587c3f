"""False-positive cost of issue #26's identifier recognizers on the real corpora, and the
independent no_pii detector's silence on the scrubbed result.

    .venv/bin/python bench/pii_identifier_fp.py [--limit 3000] [--data ../shared/data] [--show 0]

For each corpus (DailyDialog en, ConvAI2 en, LCCC zh, CPED zh; read through the ingest adapters,
nothing is copied), every turn is scrubbed twice: by ``Scrubber()`` and by the same scrubber
without the identifier recognizers (identifiers.py and the stock recognizers issue #26 added).
An utterance is "newly altered" when its spans differ. These corpora hold no real identifiers of
the new classes, so every newly altered utterance counts as a false positive. Then the residual
detector (residual.py) reads the scrubbed text: anything it finds would fail a clean batch's no_pii
check. ``--show N`` prints up to N newly altered spans per corpus (to read, never to commit).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

CORPORA = {"dailydialog": ("dailydialog_en", {"split": "train"}), "convai2": ("convai2_wild_en", {}),
           "lccc": ("lccc_toy_zh", {"split": "train"}), "cped": ("cped_zh", {"split": "test"})}
OLD_STOCK = ("US_SSN", "UK_NHS", "UK_NINO", "IBAN", "BANK_CARD")


def scrubbers():
    from vvae_pipeline.scrub import Scrubber, engine, stock

    now = Scrubber()
    real_ids, real_stock = engine.identifier_recognizers, stock.STOCK
    engine.identifier_recognizers = lambda language: []
    stock.STOCK = tuple(s for s in real_stock if s[2] in OLD_STOCK)
    try:
        before = Scrubber()
    finally:
        engine.identifier_recognizers, stock.STOCK = real_ids, real_stock
    return now, before


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=3000, help="sessions per corpus")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--show", type=int, default=0)
    args = ap.parse_args(argv)

    from vvae_pipeline.ingest.adapters import read_sessions
    from vvae_pipeline.scrub.residual import detect_many

    now, before = scrubbers()
    for corpus, (folder, kwargs) in CORPORA.items():
        t0 = time.perf_counter()
        sessions = read_sessions(corpus, Path(args.data) / folder, limit=args.limit, **kwargs)
        texts, lang = [t["text"] for s in sessions for t in s["turns"]], sessions[0]["language"]
        a = now.find(texts, lang, [None] * len(texts))
        b = before.find(texts, lang, [None] * len(texts))
        changed = [k for k in range(len(texts)) if {(f.start, f.end) for f in a[k]} != {(f.start, f.end) for f in b[k]}]
        by_type = Counter(
            f.entity for k in changed for f in a[k] if (f.start, f.end) not in {(g.start, g.end) for g in b[k]}
        )
        spans, _ = now.placeholders(texts, a)
        left = detect_many(now.replace(texts, spans), lang)
        print(f"{corpus:12s} ({lang}) {len(sessions):,} sessions, {len(texts):,} utterances: newly altered "
              f"{len(changed)} = {len(changed) / len(texts):.3%} {dict(by_type)}; residual after scrub "
              f"{dict(+left) or 0} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for k in changed[:args.show]:
            print("   ", [(f.entity, texts[k][f.start:f.end]) for f in a[k]], "|", texts[k][:120])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
