"""bench/train_length.py's rule for the step count: the lowest validation loss, unless it is the last point."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "train_length", Path(__file__).resolve().parents[2] / "bench" / "train_length.py")
train_length = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_length)


def curve(*losses):
    return [{"step": 15 * i, "val_loss": v} for i, v in enumerate(losses)]


def test_the_lowest_validation_loss_is_chosen():
    best = train_length.choose(curve(3.2, 2.5, 1.9, 1.85, 1.9, 2.1))
    assert best["step"] == 45 and best["turned"]


def test_a_curve_still_falling_at_its_end_chooses_nothing():
    best = train_length.choose(curve(3.2, 2.5, 1.9, 1.85))
    assert best["step"] == 45 and not best["turned"]


def test_preset_steps_follow_max_steps_then_epochs():
    assert train_length.preset_steps({"max_steps": 2, "num_epochs": 3}, 45) == 2
    assert train_length.preset_steps({"max_steps": -1, "num_epochs": 2}, 45) == 90
    assert train_length.preset_steps({"num_epochs": 1}, 19) == 19


def test_the_preset_files_carry_what_the_script_reads():
    for size in ("tiny", "demo", "reproduce"):
        cfg = train_length.preset_train_config(size)
        assert cfg["batch_size"] > 0 and train_length.preset_steps(cfg, 10) > 0


def test_kept_points_in_step_order_ending_with_the_adapter(tmp_path):
    from vvae_pipeline.train.artifacts import RunArtifacts

    run = RunArtifacts(tmp_path)
    for step in (12, 4, 8):
        (run.checkpoints / f"checkpoint-{step}").mkdir(parents=True)
    points = train_length.kept_points(run, 12)
    assert [s for s, _ in points] == [4, 8, 12] and points[-1][1] == run.adapter
