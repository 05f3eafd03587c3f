"""SFT dataset variants of the paper (FT, P+FT, SP+FT) and the SP+FT axis ablations.

Each variant says whether the persona is shown, whether nulls are filled by sampling from
the empirical prior, and which axis (if any) is removed from the persona.
"""

from __future__ import annotations

from dataclasses import dataclass

from vvae_pipeline.latent import INTERACTION, PERSONAL, TALKING_STYLE


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    use_persona: bool
    sample_nulls: bool
    drop_axis: str | None = None


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("ft", "FT", use_persona=False, sample_nulls=False),
        Variant("p_ft", "P+FT", use_persona=True, sample_nulls=False),
        Variant("sp_ft", "SP+FT", use_persona=True, sample_nulls=True),
        Variant("sp_ft_no_talking", "SP+FT w/o talking style", True, True, drop_axis=TALKING_STYLE),
        Variant("sp_ft_no_interaction", "SP+FT w/o interaction", True, True, drop_axis=INTERACTION),
        Variant("sp_ft_no_personal", "SP+FT w/o personal", True, True, drop_axis=PERSONAL),
    )
}
VARIANT_KEYS: tuple[str, ...] = tuple(VARIANTS)
# The three the paper compares head to head; the main job trains these by default.
CORE_VARIANTS: tuple[str, ...] = ("ft", "p_ft", "sp_ft")


def get_variant(key: str) -> Variant:
    try:
        return VARIANTS[key]
    except KeyError:
        raise KeyError(f"unknown variant {key!r}; expected one of {', '.join(VARIANT_KEYS)}") from None
