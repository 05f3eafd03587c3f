"""Stage 4, the empirical prior p(z): per-dimension value distributions over the non-null
extractions, the rules they must satisfy, and the prior's human-readable summary."""
