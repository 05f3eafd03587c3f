"""Every stage's parameters as frozen dataclasses, in pipeline order. Importing this module loads
nothing heavy (no torch, polars or Presidio), so the Dagster layer builds its ``Config`` classes from
these defaults without paying for the libraries; each default is stated here once. So is each help
text (``field(default=..., metadata={"help": ...})``, as trl's configs do): resources.fields.param_field
makes it the Dagster config field's description, so the UI shows the same sentence.
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
    max_sessions_per_agent: int = field(default=200, metadata={"help": (
        "Cap on sessions per agent per batch (seeded subsample), so that a few very active agents do not dominate "
        "the priors, as the paper does: 200 sessions x ~8 turns = ~1,600 utterances per agent per batch at most.")})
    seed: int = field(default=0, metadata={"help": "Seed of the per-agent session subsample."})
    scrub_agent_names: bool = field(default=True, metadata={"help": (
        "Also replace the agent's display name in the text: display names are persona names (\"Luna\"), and "
        "scrubbing them keeps real operators' names out, at the cost of the persona's name in its own lines.")})
    ner_model_path: str | None = field(default=None, metadata={"help": (
        "Local spaCy pipeline or transformers token-classification model directory whose PERSON entities are "
        "scrubbed as names too (vvae_pipeline/scrub/ner.py; the production recommendation, docs/production.md); "
        "None: the model-free recognizers only (nothing can be downloaded on the build machines).")})


@dataclass(frozen=True)
class DecodingParams:
    """Decoding settings, recorded verbatim in the report. Greedy by default (reproducible)."""

    max_new_tokens: int = field(default=128, metadata={"help": "Token budget per generated reply."})
    do_sample: bool = field(default=False, metadata={"help": (
        "Sample instead of decoding greedily; off by default, so that reports are reproducible.")})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature; used only with do_sample."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass; used only with do_sample."})
    repetition_penalty: float = field(default=1.0, metadata={"help": (
        "Repetition penalty, 1.0 = off; the 135M model loops on greedy decoding, and a light penalty is a config "
        "choice.")})
    batch_size: int = field(default=32, metadata={"help": "Prompts per generate() call (transformers generator)."})
    max_prompt_tokens: int = field(default=384, metadata={"help": (
        "Prompt budget in tokens: the oldest history turns are dropped until the rendered prompt fits (the system "
        "message is kept).")})
    seed: int = field(default=0, metadata={"help": "Seed of sampling (torch.manual_seed, and vLLM's seed)."})

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExtractParams:
    max_new_tokens: int = field(default=128, metadata={"help": (
        "Token budget per output (a compact 9-key object is ~70-110 tokens); outputs that stop on it are retried "
        "once at 2x.")})
    batch_size: int = field(default=16, metadata={"help": (
        "Items per engine call, also the unit committed to the cache.")})
    cache_dir: str | None = field(default=None, metadata={"help": "Directory of the output cache; None: no cache."})
    constrain_open: bool = field(default=True, metadata={"help": (
        "Open fields choose among candidate spans found in the agent's text (for small encoders).")})
    # Prefill is ~2/3 of CPU time (16 prompts x 450 tokens at ~500 tok/s vs 16 x 60 new tokens at
    # ~124 tok/s), so prompts are kept short: 3 turns x 100 chars, closed options left to the grammar.
    max_context_turns: int = field(default=3, metadata={"help": (
        "Latest turns of c shown in the prompt (candidate spans still come from all of c).")})
    max_turn_chars: int = field(default=100, metadata={"help": (
        "Characters kept per shown turn of c (x keeps twice that).")})
    show_closed_options: bool = field(default=False, metadata={"help": (
        "List the closed value sets in the prompt (~120 tokens; for strong encoders); off: the grammar alone "
        "constrains them.")})
    closed_evidence: bool = field(default=True, metadata={"help": (
        "Abstention rule: relationship/personality are asked only with the values whose cue words occur in the "
        "text, tone/vibe only once the agent wrote something; otherwise null without asking.")})
    use_capabilities: bool = field(default=True, metadata={"help": (
        "Leave null the dimensions that the engine's row of the capability table (measured on real labelled "
        "dialogue, vvae_pipeline/encode/capabilities.py) says it does not answer better than the majority class; "
        "off only to measure an engine (bench/bench_encoder_quality.py).")})


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
    seed: int = field(default=0, metadata={"help": (
        "Seed of prior sampling (SP+FT and ablations); same seeds, same dataset, bit for bit.")})
    split_seed: int = field(default=0, metadata={"help": (
        "Seed of the agent split and the per-split cap, apart from seed so that SP+FT runs with different "
        "sampling seeds are scored on the same test agents.")})
    train_fraction: float = field(default=0.8, metadata={"help": "Share of agents in the train split."})
    validation_fraction: float = field(default=0.1, metadata={"help": "Share of agents in the validation split."})
    test_fraction: float = field(default=0.1, metadata={"help": (
        "Share of agents in the test split (what the benchmark scores).")})
    max_examples_per_split: int | None = field(default=None, metadata={"help": (
        "Keep at most this many examples per split (seeded choice, the same rows for every variant), None for "
        "all: keeps CPU runs and demos small.")})

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": self.train_fraction, "validation": self.validation_fraction, "test": self.test_fraction}

    def __post_init__(self) -> None:
        check_fractions(self.fractions)
        if self.max_examples_per_split is not None and self.max_examples_per_split < 1:
            raise ValueError("max_examples_per_split must be >= 1 or None")


@dataclass(frozen=True)
class LoraParams:
    r: int = field(default=16, metadata={"help": "LoRA rank."})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: tuple[str, ...] | None = field(default=None, metadata={"help": (
        "Module names to adapt; None: the backbone's registry entry (all 7 attention + MLP projections).")})
    # SmolLM2-135M on 2 CPU cores, one epoch over 256 DailyDialog dialogues, length-grouped batches
    # (bench/bench_train_cpu.py, bench/results/cpu_train_2026-12-01.json): all 30 layers 123.5 real
    # tok/s, eval loss 3.018; top 16: 177.6, 3.088; top 8: 228.4, 3.153 (random-order batches on all
    # layers: 76-86, 2.979).
    top_layers: int | None = field(default=None, metadata={"help": (
        "Adapt only the top N decoder layers (peft layers_to_transform), None: all; frozen layers below the "
        "lowest adapter need no backward pass, at a price in loss (SmolLM2-135M on 2 CPU cores: top 8 of 30 "
        "layers trained 1.85x as fast, eval loss 3.153 against 3.018).")})


@dataclass(frozen=True)
class TrainParams:
    lora: LoraParams = field(default_factory=LoraParams, metadata={"help": "The LoRA adapter's settings."})
    max_steps: int = field(default=-1, metadata={"help": (
        "Optimizer steps; > 0 wins over num_epochs, -1: num_epochs decides.")})
    num_epochs: float = field(default=3.0, metadata={"help": "Epochs over the train split when max_steps is -1."})
    batch_size: int = field(default=2, metadata={"help": (
        "Rows per device per micro-step (packed rows of max_length tokens on GPU).")})
    grad_accum: int = field(default=4, metadata={"help": (
        "Micro-steps per optimizer step (2 rows x 2048 tokens x 4 = 16,384 tokens per optimizer step).")})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Share of the optimizer steps spent warming up."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "transformers learning-rate scheduler name."})
    max_length: int = field(default=2048, metadata={"help": (
        "Tokens per example: longer examples lose history from the left of the prompt (the target reply is never "
        "cut; an example whose reply alone does not fit is dropped).")})
    eval_steps: int = field(default=50, metadata={"help": "Validation loss every this many steps (and at the end)."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every this many steps (the resume point)."})
    logging_steps: int = field(default=10, metadata={"help": "Train loss logged every this many steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    seed: int = field(default=0, metadata={"help": "Seed of the data order, LoRA init and dropout."})
    device: str = field(default="auto", metadata={"help": "auto (cuda when available) | cpu | cuda."})
    dtype: str = field(default="auto", metadata={"help": (
        "Weights dtype; auto: bfloat16 on GPU, float32 on CPU (see autocast for bf16 on CPU).")})
    packing: str = field(default="auto", metadata={"help": "auto (padding-free packing with a GPU) | on | off."})
    group_by_length: bool = field(default=True, metadata={"help": (
        "Without packing, batch rows of similar length, so that less is spent on padding.")})
    use_liger: str = field(default="auto", metadata={"help": (
        "Liger fused kernels: auto (when liger_kernel imports and a GPU is used) | on | off.")})
    gradient_checkpointing: bool = field(default=False, metadata={"help": (
        "Trade speed for activation memory; off by default: on an H100 a 7B LoRA with 2 x 2048-token rows peaks "
        "at ~44 GiB without it and runs ~40% faster (measured on a lent H100: 9,822 vs 6,955 real tok/s).")})
    attn_implementation: str = field(default="auto", metadata={"help": (
        "auto: flash_attention_2 if installed on GPU, else sdpa.")})
    torch_threads: int = field(default=0, metadata={"help": (
        "Torch CPU threads; 0 leaves torch's default (all cores; on 2 cores of which another process holds one, "
        "1 thread generated ~3x faster than 2, assets/definitions.py).")})
    # SmolLM2-135M, 2 cores with AVX512-BF16, all 30 layers, length-grouped, LoRA dropout 0
    # (bench/bench_train_cpu.py, bench/results/cpu_train_autocast_2026-12-01.json, 3 seeds): 2.2-3.1x
    # the real tok/s of fp32 random-order batches with dropout 0.05, at the same fp32 validation loss
    # (2.991 vs 2.990, seed sd 0.018). With dropout 0.05 kept, bf16 reached 113 tok/s against 181.
    autocast: str = field(default="auto", metadata={"help": (
        "bf16 autocast over fp32 weights (mixed precision; the optimizer and LoRA weights stay fp32): auto (on a "
        "CPU with native bf16 matmuls, AVX512-BF16 or AMX; GPUs already train in bf16) | bf16 | off.")})

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
    max_test_prompts: int = field(default=1000, metadata={"help": (
        "Test examples per system (seeded, round-robin over agents so that every agent is covered).")})
    shots: tuple[int, ...] = field(default=(0, 2, 5), metadata={"help": (
        "k of the k-shot persona-prompting baselines.")})
    include_base: bool = field(default=True, metadata={"help": "Also generate with the untuned base model."})
    oracle_diagnostic: bool = field(default=False, metadata={"help": (
        "Also run P+FT with the z the encoder read from (c, x): an upper bound on what a persona can tell the "
        "model, labelled \"oracle z\" and never part of the headline (a deployment has no x).")})
    bootstrap_samples: int = field(default=2000, metadata={"help": "Resamples of test agents for every interval."})
    decoding: DecodingParams = field(default_factory=DecodingParams, metadata={"help": (
        "Decoding of every generated reply.")})
    seed: int = field(default=0, metadata={"help": (
        "Seed of the test-example choice, the sampled personas, the k-shot examples and every bootstrap (the "
        "benchmark_report's run config also passes it as DecodingParams.seed and DialogBenchParams.seed: sampling, "
        "DialogBench's item choice and distractors).")})
    headline_protocol: str = field(default="declared", metadata={"help": (
        "Test-time persona of the headline, the claims and the promotion: \"declared\" (the paper's "
        "HumanChatBench protocol: the agent's declared profile, its undeclared dimensions null) where the test "
        "agents declare one, else \"context\" (inferred from the conversation so far); whenever the data "
        "declares profiles for test agents, both protocols are scored and reported.")})


@dataclass(frozen=True)
class DialogBenchParams:
    items_per_task: int = field(default=200, metadata={"help": (
        "Items sampled per task (stratified by label, seeded); each is asked once per rotation of its options.")})
    tasks: tuple[str, ...] = field(default=("ed_en", "ic_en", "ed_zh"), metadata={"help": (
        "Tasks to build from the corpora (converters: evaluate.dialogbench_corpora.CONVERTERS).")})
    systems: tuple[str, ...] = field(default=("base", *VARIANT_GROUPS["core"], *VARIANT_GROUPS["ablations"]),
                                     metadata={"help": (
        "\"base\" and/or variant keys, variants without an adapter left out; by default the paper's three and the "
        "axis ablations (the sweep and sensitivity variants are about CP/EC/HM, not dialogue ability).")})
    n_choices: int = field(default=4, metadata={"help": (
        "Options per item, the correct label + n_choices - 1 distractors; every item is asked n_choices times.")})
    history_turns: int = field(default=4, metadata={"help": (
        "Turns shown: the target utterance and up to history_turns - 1 turns before it.")})
    max_chars_per_turn: int = field(default=200, metadata={"help": "Characters kept per shown turn."})
    batch_size: int = 16
    seed: int = 0
