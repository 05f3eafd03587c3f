"""Stage 5, the SFT set: persona per variant (observed, sampled from the prior, dropped), the
persona system prompt, agent-disjoint splits and the chat rows (c, z) -> x."""
