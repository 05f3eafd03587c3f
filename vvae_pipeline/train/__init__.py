"""Stage 6, LoRA training: tokenization with a loss mask on x only, trl/peft wiring, the run
loop and the adapter artifact contract."""
