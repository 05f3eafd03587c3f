"""Chat templates of the backbone families, as Jinja strings.

The default backbone (SmolLM2) ships its own ChatML template; these copies let tests and tools
render the other families with any tokenizer (the SmolLM2 tokenizer with the template swapped and
the family's special tokens added). Assistant-only loss masks are built from the rendered text in
``masking.py``, so none of these needs trl's ``{% generation %}`` markers.
"""

from __future__ import annotations

# SmolLM2-135M-Instruct: ChatML, a default system prompt when none is given, eos = pad = <|im_end|>.
SMOLLM2_CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Qwen2.5-Instruct style ChatML (tool calls left out): its own default system prompt, and the
# end-of-turn <|im_end|> differs from the pad token (<|endoftext|>) as in the released tokenizer.
QWEN_CHATML = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (loop.first and message['role'] == 'system') %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)
QWEN_SPECIAL_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}

# Meta-Llama-3-Instruct: header tokens, contents trimmed, <|eot_id|> ends a turn, bos first.
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# Llama 3 has no pad token; fine-tuning recipes use a reserved one, distinct from the EOS.
LLAMA3_SPECIAL_TOKENS = {
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
    "pad_token": "<|finetune_right_pad_id|>",
    "additional_special_tokens": ["<|start_header_id|>", "<|end_header_id|>"],
}

TEMPLATES: dict[str, str] = {"smollm2": SMOLLM2_CHATML, "qwen": QWEN_CHATML, "llama3": LLAMA3}


def with_template(tokenizer, name: str):
    """Give ``tokenizer`` the named family's template and special tokens (in place; returns it)."""
    tokenizer.chat_template = TEMPLATES[name]
    special = {"qwen": QWEN_SPECIAL_TOKENS, "llama3": LLAMA3_SPECIAL_TOKENS}.get(name)
    if special:
        extra = special.get("additional_special_tokens", [])
        tokenizer.add_special_tokens({k: v for k, v in special.items() if k != "additional_special_tokens"})
        if extra:
            tokenizer.add_special_tokens({"additional_special_tokens": extra})
    return tokenizer
