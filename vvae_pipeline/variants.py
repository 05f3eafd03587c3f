"""SFT dataset variants of the paper (FT, P+FT, SP+FT), the SP+FT axis ablations, and the paper's
open questions as variants.

Each variant says whether the persona is shown, whether nulls are filled (from the empirical prior,
or from the agent's own most frequent value), which share of the nulls is filled, which axis (if
any) is removed from the persona, and which share of the observed values is corrupted before SFT:

- the sampling-rate sweep (open question 2: does sampling help by regularising or by filling
  gaps?): SP+FT filling a quarter and a half of the nulls; 0 is P+FT and 1 is SP+FT;
- the alternative imputation: each null of the SFT set filled with the agent's own most frequent
  observed value of that dimension (left null when the agent never showed one); at test time it
  fills nothing (a test agent has no history a deployment could take a mode from);
- extraction-error sensitivity: SP+FT trained on extractions of which 10% / 30% of the observed
  values were replaced by a draw from the prior (seeded), i.e. an encoder that is wrong that often.
  Only the training set is corrupted; test-time personas never are.
"""

from __future__ import annotations

from dataclasses import dataclass

from vvae_pipeline.latent import INTERACTION, PERSONAL, TALKING_STYLE


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    use_persona: bool
    sample_nulls: bool  # nulls are filled (from ``fill_from``)
    drop_axis: str | None = None
    sample_rate: float = 1.0  # share of the nulls filled (seeded per row and dimension)
    fill_from: str = "prior"  # "prior" (the empirical prior) or "agent_mode" (the agent's own mode)
    corrupt: float = 0.0  # share of observed training values replaced by a prior draw

    def __post_init__(self):
        if self.fill_from not in FILL_SOURCES:
            raise ValueError(f"{self.key}: fill_from {self.fill_from!r} not in {FILL_SOURCES}")
        if not (0.0 <= self.sample_rate <= 1.0 and 0.0 <= self.corrupt <= 1.0):
            raise ValueError(f"{self.key}: sample_rate and corrupt are shares in [0, 1]")


FILL_SOURCES = ("prior", "agent_mode")


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("ft", "FT", use_persona=False, sample_nulls=False),
        Variant("p_ft", "P+FT", use_persona=True, sample_nulls=False),
        Variant("sp_ft", "SP+FT", use_persona=True, sample_nulls=True),
        Variant("sp_ft_no_talking", "SP+FT w/o talking style", True, True, drop_axis=TALKING_STYLE),
        Variant("sp_ft_no_interaction", "SP+FT w/o interaction", True, True, drop_axis=INTERACTION),
        Variant("sp_ft_no_personal", "SP+FT w/o personal", True, True, drop_axis=PERSONAL),
        Variant("sp_ft_rate25", "SP+FT, 25% of nulls sampled", True, True, sample_rate=0.25),
        Variant("sp_ft_rate50", "SP+FT, 50% of nulls sampled", True, True, sample_rate=0.5),
        Variant("agent_mode_ft", "P+FT, nulls = agent's own mode", True, True, fill_from="agent_mode"),
        Variant("sp_ft_corrupt10", "SP+FT on 10% corrupted values", True, True, corrupt=0.1),
        Variant("sp_ft_corrupt30", "SP+FT on 30% corrupted values", True, True, corrupt=0.3),
    )
}
VARIANT_KEYS: tuple[str, ...] = tuple(VARIANTS)
# The three the paper compares head to head; the main job trains these by default.
CORE_VARIANTS: tuple[str, ...] = ("ft", "p_ft", "sp_ft")
# Named sets for --variants: the paper's three, the axis ablations, the sampling-rate sweep with the
# alternative imputation, and the extraction-error sensitivity.
VARIANT_GROUPS: dict[str, tuple[str, ...]] = {
    "core": CORE_VARIANTS,
    "ablations": ("sp_ft_no_talking", "sp_ft_no_interaction", "sp_ft_no_personal"),
    "sweep": ("p_ft", "sp_ft_rate25", "sp_ft_rate50", "sp_ft", "agent_mode_ft"),
    "sensitivity": ("sp_ft", "sp_ft_corrupt10", "sp_ft_corrupt30"),
    "all": VARIANT_KEYS,
}


def expand_variants(spec: str) -> tuple[str, ...]:
    """Comma-separated variant keys and group names (VARIANT_GROUPS) -> variant keys in registry order."""
    keys: set[str] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part in VARIANT_GROUPS:
            keys |= set(VARIANT_GROUPS[part])
        else:
            keys.add(get_variant(part).key)
    return tuple(k for k in VARIANT_KEYS if k in keys)


def get_variant(key: str) -> Variant:
    try:
        return VARIANTS[key]
    except KeyError:
        raise KeyError(f"unknown variant {key!r}; expected one of {', '.join(VARIANT_KEYS)}") from None
