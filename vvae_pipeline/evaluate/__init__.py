"""Stage 7, evaluation: the benchmark plan and scoring (CP/EC/HM against the human replies),
the detectors, DialogBench and the report."""
