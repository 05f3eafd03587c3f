"""Ingest + scrub throughput on 100k generated utterances vs a naive per-utterance Presidio loop.

    .venv/bin/python bench/bench_scrub.py [--utterances 100000] [--naive-sample 5000] [--seed 0]

Generates demo sessions (vvae_pipeline.ingest.demo: zh + en, PII planted in ~30% of user turns), lands
them as JSON Lines in a temp folder, then times, in one process:
  fast:  landing.read_landed_file + scrub.scrub_sessions (chunked analyzer calls) over everything;
  naive: one AnalyzerEngine.analyze + one AnonymizerEngine.anonymize per utterance, same recognizers,
         on a random subsample (it is ~10x slower, so the full set would take minutes).
"Utterances" are every text the scrubber sees: turns plus annotated rewrites.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=100_000)
    ap.add_argument("--naive-sample", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the best of each path counts "
                                                            "(shared machines: the least-disturbed round)")
    args = ap.parse_args(argv)

    from vvae_pipeline.ingest.demo import generate_demo
    from vvae_pipeline.ingest.landing import read_landed_file
    from vvae_pipeline.scrub import Scrubber, ScrubParams, scrub_sessions
    from vvae_pipeline.scrub.names import names_pattern

    # 8 turns + 2 rewrites = 10 utterances per session; 6 agents (3 zh, 3 en) share the sessions.
    per_session, n_agents = 10, 6
    sessions_per_agent = max(1, args.utterances // (per_session * n_agents))
    sessions, _ = generate_demo(n_agents=n_agents, sessions_per_agent=sessions_per_agent, turns_per_session=8,
                                annotations_per_session=2, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sessions), encoding="utf-8")
        scrubber = Scrubber()
        raw, _, _ = read_landed_file(path, "bench")
        # Naive loop on a seeded subsample of the same utterances (with each session's own names).
        items = []
        for row in raw.iter_rows(named=True):
            rx = names_pattern([row["user_name"], row["agent_name"]])
            items += [(t["text"], row["language"], rx) for t in row["turns"]]
            items += [(a["rewritten_text"], row["language"], rx) for a in row["annotations"]]
        sample = random.Random(args.seed).sample(items, min(args.naive_sample, len(items)))
        best_ingest = best_scrub = best_naive = float("inf")
        for round_ in range(args.repeat):
            t0 = time.perf_counter()
            raw, _, _ = read_landed_file(path, "bench")
            t1 = time.perf_counter()
            scrubbed, sstats = scrub_sessions(raw, ScrubParams(max_sessions_per_agent=10**9), scrubber)
            t2 = time.perf_counter()
            for text, lang, rx in sample:
                scrubber.anonymize([text], [scrubber.find_one(text, lang, rx)])
            t3 = time.perf_counter()
            best_ingest, best_scrub = min(best_ingest, t1 - t0), min(best_scrub, t2 - t1)
            best_naive = min(best_naive, (t3 - t2) / len(sample))
            print(f"round {round_ + 1}: ingest {t1 - t0:.2f} s, scrub {t2 - t1:.2f} s, "
                  f"naive {len(sample) / (t3 - t2):,.0f} utterances/s", flush=True)
    n = sstats["utterances"]
    fast = n / (best_ingest + best_scrub)
    naive = 1 / best_naive
    print(f"\nsessions {raw.height:,}  utterances {n:,}  with PII {sstats['utterances_with_pii']:,}  "
          f"entities replaced {sstats['pii_total']:,}   (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    print(f"ingest {best_ingest:.2f} s + scrub {best_scrub:.2f} s  ->  ingest+scrub {fast:,.0f} utterances/s "
          f"(scrub alone {n / best_scrub:,.0f}/s)")
    print(f"naive per-utterance Presidio loop (analyze + anonymize, same recognizers): {naive:,.0f} utterances/s "
          f"(on {len(sample):,})")
    print(f"ratio ingest+scrub / naive: {fast / naive:.1f}x; scrub alone / naive: {n / best_scrub / naive:.1f}x  "
          f"(goal: >= 20,000 utterances/s on 2 cores and >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
