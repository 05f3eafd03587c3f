"""Stage 3, the V-VAE encoder q(z | c, x): candidates from the text, the extraction prompt and
decoding schema, grounding of the model's answer, the resumable cache and quality scoring."""
