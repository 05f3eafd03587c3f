"""The names of the benchmark's systems, each stated once.

A system is what produced a set of replies to the test prompts: the human replies (the target),
one SFT variant's adapter (its variant key, vvae_pipeline.variants), the untuned base model, a
k-shot prompting baseline, the registry's champion adapter and the oracle-z diagnostic.
"""

from __future__ import annotations

from vvae_pipeline.latent import TALKING_STYLE
from vvae_pipeline.variants import CORE_VARIANTS, VARIANT_GROUPS, VARIANTS

HUMAN = "human"  # the human replies of the test split: the rates every system is compared with
BASE = "base"  # the untuned backbone on the bare history
CHAMPION = "champion"  # the registry alias's SP+FT adapter, on exactly the SP+FT prompts
ORACLE = "p_ft_oracle"  # P+FT prompted with the z read from (c, x): a diagnostic, never the headline
# The paper's three variants, in variants.CORE_VARIANTS' order.
FT, P_FT, SP_FT = CORE_VARIANTS
# The three SP+FT axis ablations, talking style first (claim 5 compares it with the other two).
ABLATIONS: tuple[str, ...] = VARIANT_GROUPS["ablations"]
assert [VARIANTS[k].use_persona for k in (FT, P_FT, SP_FT)] == [False, True, True] and VARIANTS[SP_FT].sample_nulls \
    and not VARIANTS[P_FT].sample_nulls, "variants.CORE_VARIANTS must be FT, P+FT, SP+FT in that order"
assert VARIANTS[ABLATIONS[0]].drop_axis == TALKING_STYLE, "the first ablation must drop the talking-style axis"


def shot_system(k: int) -> str:
    """The k-shot persona-prompting baseline's system name, e.g. "0-shot"."""
    return f"{k}-shot"
