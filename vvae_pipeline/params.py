"""Every stage's parameters as frozen dataclasses, in pipeline order. Importing this module loads
nothing heavy (no torch, polars or Presidio), so the Dagster layer builds its ``Config`` classes from
these defaults without paying for the libraries; each default is stated here once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from vvae_pipeline.variants import VARIANT_GROUPS

SPLIT_NAMES = ("train", "validation", "test")


def check_fractions(fractions: dict[str, float]) -> None:
    if set(fractions) != set(SPLIT_NAMES):
        raise ValueError(f"split fractions must name {SPLIT_NAMES}, got {sorted(fractions)}")
    if any(f < 0 for f in fractions.values()) or abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    if fractions["train"] <= 0:
        raise ValueError("train fraction must be > 0")


@dataclass(frozen=True)
class ScrubParams:
    # The paper subsamples highly active agents so a few personas do not dominate the priors;
    # 200 sessions x ~8 turns = ~1,600 utterances per agent per batch at most.
    max_sessions_per_agent: int = 200
    seed: int = 0
    # Agent display names are persona names ("Luna"); scrubbing them too keeps real operators'
    # names out, at the cost of the persona's name in its own lines.
    scrub_agent_names: bool = True
    # A local spaCy pipeline or transformers token-classification model directory whose PERSON
    # entities are names too (vvae_pipeline/scrub/ner.py); the production recommendation for names.
    # None: the model-free recognizers only (nothing can be downloaded on the build machines).
    ner_model_path: str | None = None


@dataclass(frozen=True)
class DecodingParams:
    """Decoding settings, recorded verbatim in the report. Greedy by default (reproducible)."""

    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    # 1.0 = off. The 135M model loops on greedy decoding; a light penalty is a config choice.
    repetition_penalty: float = 1.0
    batch_size: int = 32  # prompts per generate() call (transformers engine)
    # Oldest history turns are dropped until the rendered prompt fits (system message kept).
    max_prompt_tokens: int = 384
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExtractParams:
    max_new_tokens: int = 128  # a compact 9-key object is ~70-110 tokens; "length" retries at 2x
    batch_size: int = 16  # items per engine call; also the unit committed to the cache
    cache_dir: str | None = None  # None: no cache
    constrain_open: bool = True  # open fields choose among candidate spans (small encoders)
    # Prefill is ~2/3 of CPU time (16 prompts x 450 tokens at ~500 tok/s vs 16 x 60 new tokens at
    # ~124 tok/s), so prompts are kept short: 3 turns x 100 chars, closed options left to the grammar.
    max_context_turns: int = 3  # last turns of c shown (candidates still come from all of c)
    max_turn_chars: int = 100  # per shown turn (x gets twice that)
    show_closed_options: bool = False  # list closed enums in the prompt (~120 tokens; strong models)
    # Abstention rule: relationship/personality are asked only with the values whose cue words occur
    # in the text, tone/vibe only once the agent wrote something; otherwise null without asking.
    closed_evidence: bool = True
    # Leave null the dimensions the engine's row of the capability table (measured on real labelled
    # dialogue, vvae_pipeline/encode/capabilities.py) says it does not answer better than the
    # majority class. Off only to measure an engine (bench/bench_encoder_quality.py).
    use_capabilities: bool = True


@dataclass(frozen=True)
class PersonaCheckParams:
    """Thresholds of the checks that notice a garbage z (encode.garbage): each is a figure a
    working encoder stays clear of and the garbage measured on real dialogue (issue #23) does not."""

    # A closed dimension fails when one value holds more than this share of its answers. Tone has
    # 10 values and vibe 8: 35% is 2.8-3.5x an even share, and the garbage was tone "formal" on
    # 76-91% and vibe "flirty" on 80-92% of examples.
    max_top_share: float = 0.35
    # A share is judged only on at least this many answers, so tiny batches do not flap: a value
    # truly at 20% exceeds 35% of 20 answers (8+) with probability 0.03 (binomial).
    min_answers: int = 20
    # catchphrase + nickname + topic values that are only function words (怎么, 没有, "you know").
    max_function_word_share: float = 0.05
    # Grounded values (catchphrase, emoji, nickname) found in the agent's own text. The parser
    # drops every ungrounded value, so a working encoder scores exactly 1.0 and there is no sampling
    # noise to wait for: judged at any count; 5% leaves room for normalisation (emoji shortcodes).
    min_grounding_rate: float = 0.95
    # Where the data declares a profile: of the examples whose x contains a declared value, the
    # share the encoder read it from. Below one half it misses more declared values than it finds.
    min_declared_recall: float = 0.5


@dataclass(frozen=True)
class SFTParams:
    seed: int = 0  # prior sampling
    # The split and the per-split cap have their own seed, so that SP+FT runs with different
    # sampling seeds are scored on the same test agents.
    split_seed: int = 0
    train_fraction: float = 0.8
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    # Cap per split (seeded choice of rows), None for all: keeps CPU runs and demos small.
    max_examples_per_split: int | None = None

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": self.train_fraction, "validation": self.validation_fraction, "test": self.test_fraction}

    def __post_init__(self) -> None:
        check_fractions(self.fractions)
        if self.max_examples_per_split is not None and self.max_examples_per_split < 1:
            raise ValueError("max_examples_per_split must be >= 1 or None")


@dataclass(frozen=True)
class LoraParams:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    # None: the backbone's registry entry (all 7 attention + MLP projections).
    target_modules: tuple[str, ...] | None = None
    # Adapt only the top N decoder layers (peft layers_to_transform); None: all. Frozen layers below
    # the lowest adapter need no backward pass, at a price in loss. SmolLM2-135M on 2 CPU cores, one
    # epoch over 256 DailyDialog dialogues, length-grouped batches (bench/bench_train_cpu.py,
    # bench/results/cpu_train_2026-12-01.json): all 30 layers 123.5 real tok/s, eval loss 3.018;
    # top 16: 177.6, 3.088; top 8: 228.4, 3.153 (random-order batches on all layers: 76-86, 2.979).
    top_layers: int | None = None


@dataclass(frozen=True)
class TrainParams:
    lora: LoraParams = field(default_factory=LoraParams)
    max_steps: int = -1  # > 0 wins over num_epochs
    num_epochs: float = 3.0
    batch_size: int = 2  # per device; packed rows of max_length tokens on GPU
    grad_accum: int = 4  # 2 rows x 2048 tokens x 4 = 16,384 tokens per optimizer step
    learning_rate: float = 2e-4
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    max_length: int = 2048
    eval_steps: int = 50
    save_steps: int = 50
    logging_steps: int = 10
    save_total_limit: int = 2
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # weights; auto: bfloat16 on GPU, float32 on CPU (see autocast for CPU bf16)
    packing: str = "auto"  # auto (on with a GPU) | on | off
    group_by_length: bool = True  # without packing: batches of similar length waste less on padding
    use_liger: str = "auto"  # auto (when liger_kernel imports and a GPU is used) | on | off
    # Off by default: on an H100 a 7B LoRA with 2 x 2048-token rows peaks at ~44 GiB without it
    # and runs ~40% faster (measured on a lent H100: 9,822 vs 6,955 real tok/s).
    gradient_checkpointing: bool = False
    attn_implementation: str = "auto"  # auto: flash_attention_2 if installed on GPU, else sdpa
    torch_threads: int = 0  # 0: leave torch's default
    # bf16 autocast over fp32 weights (mixed precision; the optimizer and LoRA weights stay fp32).
    # auto: on a CPU with native bf16 matmuls (AVX512-BF16 or AMX); GPUs already train in bf16.
    # SmolLM2-135M, 2 cores with AVX512-BF16, all 30 layers, length-grouped, LoRA dropout 0
    # (bench/bench_train_cpu.py, bench/results/cpu_train_autocast_2026-12-01.json, 3 seeds): 2.2-3.1x
    # the real tok/s of fp32 random-order batches with dropout 0.05, at the same fp32 validation loss
    # (2.991 vs 2.990, seed sd 0.018). With dropout 0.05 kept, bf16 reached 113 tok/s against 181.
    autocast: str = "auto"  # auto | bf16 | off

    def __post_init__(self):
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("batch_size", "grad_accum", "max_length", "eval_steps", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lora.top_layers is not None and self.lora.top_layers < 1:
            raise ValueError(f"lora.top_layers must be >= 1 or None, got {self.lora.top_layers}")
        if self.max_steps == 0 or (self.max_steps < 0 and self.num_epochs <= 0):
            raise ValueError("set max_steps > 0, or max_steps = -1 with num_epochs > 0")
        for name, allowed in (("device", ("auto", "cpu", "cuda")), ("packing", ("auto", "on", "off")),
                              ("use_liger", ("auto", "on", "off")), ("autocast", ("auto", "bf16", "off"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class BenchmarkParams:
    max_test_prompts: int = 1000  # test examples per system (seeded, round-robin over agents)
    shots: tuple[int, ...] = (0, 2, 5)  # k of the k-shot persona-prompting baselines
    include_base: bool = True  # also generate with the untuned base model
    # Also run P+FT with the z the encoder read from (c, x): an upper bound on what a persona can
    # tell the model, labelled "oracle z" and never part of the headline (a deployment has no x).
    oracle_diagnostic: bool = False
    bootstrap_samples: int = 2000  # resamples of test agents for every interval
    decoding: DecodingParams = field(default_factory=DecodingParams)
    seed: int = 0
    # Which test-time persona the headline, the claims and the promotion use: "declared" (the paper's
    # HumanChatBench protocol: the agent's declared profile, its undeclared dimensions null) where the
    # test agents declare one, else "context" (inferred from the conversation so far). Whenever the
    # data declares profiles for test agents both protocols are scored and reported.
    headline_protocol: str = "declared"


@dataclass(frozen=True)
class DialogBenchParams:
    items_per_task: int = 200
    tasks: tuple[str, ...] = ("ed_en", "ic_en", "ed_zh")  # converters (evaluate.dialogbench_corpora.CONVERTERS)
    # "base" and/or variant keys; variants without an adapter are left out. The paper's three and the
    # axis ablations: the sweep and sensitivity variants are about CP/EC/HM, not dialogue ability.
    systems: tuple[str, ...] = ("base", *VARIANT_GROUPS["core"], *VARIANT_GROUPS["ablations"])
    n_choices: int = 4  # the correct label + 3 distractors; every item is asked n_choices times
    history_turns: int = 4  # the target utterance and up to 3 turns before it
    max_chars_per_turn: int = 200
    batch_size: int = 16
    seed: int = 0
