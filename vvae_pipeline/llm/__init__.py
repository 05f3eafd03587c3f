"""LLM plumbing shared by every stage: model resolution (registry key -> local weights), the
extraction engines (transformers, vLLM, OpenAI-compatible) and chat generation for the report."""
