"""python -m vvae_pipeline.ingest.adapters CORPUS SOURCE_DIR OUT.jsonl [--split S] [--limit N]"""

import argparse
import sys
from pathlib import Path

from vvae_pipeline.ingest.adapters import ADAPTERS, read_sessions, write_jsonl


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", choices=ADAPTERS)
    ap.add_argument("source", type=Path)
    ap.add_argument("out", type=Path, help="e.g. $VVAE_HOME/landing/<name>.jsonl")
    ap.add_argument("--split", help="split (dailydialog/lccc/cped) or part (convai2)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--max-annotations", type=int)
    args = ap.parse_args(argv)
    kwargs = {"limit": args.limit, "max_annotations": args.max_annotations}
    if args.split:
        kwargs["part" if args.corpus == "convai2" else "split"] = args.split
    n = write_jsonl(read_sessions(args.corpus, args.source, **kwargs), args.out)
    print(f"landed {n} {args.corpus} sessions at {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
