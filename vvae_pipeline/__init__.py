"""V-VAE domain library: the paper's method, free of any orchestration framework.

Nothing in this package imports dagster; heavy libraries (torch, transformers, trl,
vllm) are imported inside the functions that need them.
"""
