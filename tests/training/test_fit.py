"""The training driver on tiny configs: a smoke run, its run directory and TensorBoard logs, resume."""

import collections
import csv
import json

import keras
import numpy as np
import pytest

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import load_samples, make_dataset
from graphmdn_tf.runs import LOCK_FILE, RUN_FILES, RunDirectory
from graphmdn_tf.training.fit import TrainingData, TrainingDiverged, TrainResult, train
from graphmdn_tf.training.one_cycle import one_cycle_learning_rate, schedule_rates
from tests.training.conftest import read_events, tiny_config

STEPS_PER_EPOCH = 3600 // 128  # synthetic training subjects at stride 4, batch 128


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    return train(tiny_config(), run_dir, verbose=0)


def test_smoke_run_leaves_a_finished_run_dir(smoke_run: TrainResult):
    run_dir = smoke_run.run_dir
    assert (
        smoke_run.steps_per_epoch == STEPS_PER_EPOCH
        and smoke_run.total_steps == 2 * STEPS_PER_EPOCH
    )
    assert (
        smoke_run.train_samples == 3600 and smoke_run.validation_samples == 256
    )  # validation_frames of 1440
    assert int(smoke_run.model.optimizer.iterations.numpy()) == smoke_run.total_steps
    assert (
        json.loads((run_dir / "training.json").read_text())["final_step"] == smoke_run.total_steps
    )
    for name in (
        "config.json",
        "model.keras",
        "history.csv",
        "training.json",
        "training_curves.png",
    ):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "backup").exists()
    assert json.loads((run_dir / "config.json").read_text())["model"] == "graphmdn"
    with open(run_dir / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert [row["epoch"] for row in history] == ["0", "1"]
    assert float(history[1]["loss"]) < float(history[0]["loss"])  # it learns
    assert {"val_loss", "val_mpjpe_mean", "val_mpjpe_oracle", "mpjpe_highest"} <= set(history[0])
    reloaded = keras.saving.load_model(run_dir / "model.keras")
    x = np.random.default_rng(0).normal(size=(4, 16, 2)).astype(np.float32)
    np.testing.assert_allclose(reloaded(x)["mu"], smoke_run.model(x)["mu"], atol=1e-5)


def test_tensorboard_logs(smoke_run: TrainResult):
    logs = smoke_run.run_dir / "logs"
    train_events = read_events(logs / "train")
    rates = dict(train_events["step/learning_rate"])
    steps = np.array(sorted(rates))
    assert len(steps) == smoke_run.total_steps
    np.testing.assert_allclose(
        [rates[s] for s in steps], one_cycle_learning_rate(steps, smoke_run.total_steps), rtol=1e-5
    )
    assert "step/loss" in train_events and "epoch_loss" in train_events
    validation = read_events(logs / "validation")
    for tag in (
        "epoch_loss",
        "nll",
        "mixture/pi_entropy",
        "mixture/mean_sigma_mm",
        "mixture/highest_share/kernel_2",
        "mixture/oracle_share/kernel_0",
        "mixture/highest_kernel",
    ):
        assert [step for step, _ in validation[tag]] == [0, 1], tag
    for protocol in (1, 2):
        for name in ("highest", "mean", "oracle"):
            assert all(value > 0 for _, value in validation[f"protocol{protocol}/{name}"])
    images = validation["figure2/hypotheses"]
    assert len(images) == 2 and images[0][1][:4] == b"\x89PNG"
    assert "_hparams_/session_start_info" in read_events(logs)


def test_a_finished_run_holds_only_files_the_run_directory_module_names(smoke_run: TrainResult):
    names = {path.name for path in smoke_run.run_dir.iterdir()}
    assert names <= set(RUN_FILES) | {LOCK_FILE}, names - set(RUN_FILES)
    run = RunDirectory(smoke_run.run_dir)
    assert (
        run.is_finished()
        and run.finished_with(smoke_run.config)
        and not run.finished_with(smoke_run.config.replace(epochs=3))
    )
    assert run.load_config() == smoke_run.config and smoke_run.model_path == run.model_path


def test_finished_run_is_not_clobbered(smoke_run: TrainResult):
    with pytest.raises(FileExistsError, match="holds a finished run"):
        train(smoke_run.config, smoke_run.run_dir, verbose=0)


def test_a_folder_that_is_not_a_run_is_refused_and_left_untouched(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("logs", "history.csv", "training.json", "results.md", "photo.jpg"):
        (folder / name).write_text("the user's")
    before = sorted(path.name for path in folder.iterdir())
    for overwrite in (False, True):
        with pytest.raises(
            FileExistsError, match=r"holds files that are not a graphmdn-tf run \(no config.json"
        ):
            train(tiny_config(), folder, overwrite=overwrite, verbose=0)
    assert sorted(path.name for path in folder.iterdir()) == before
    assert all((folder / name).read_text() == "the user's" for name in before)


def test_a_wrong_data_dir_changes_nothing_in_a_run_directory(tmp_path):
    # A finished run whose model.keras was moved away: its config, history and logs stay when the next
    # command fails on its data.
    run_dir = tmp_path / "run"
    config = tiny_config()
    RunDirectory(run_dir).prepare(config)
    (run_dir / "history.csv").write_text("epoch,loss\n0,1.0\n")
    (run_dir / "logs").mkdir()
    for attempt in (config.replace(dataset="cmu", data_dir=str(tmp_path / "typo")), config):
        broken = attempt.replace(train_subjects=("S99",)) if attempt is config else attempt
        with pytest.raises((ValueError, FileNotFoundError)):
            train(broken, run_dir, verbose=0, overwrite=attempt is config)
        assert (run_dir / "history.csv").read_text() == "epoch,loss\n0,1.0\n" and (
            run_dir / "logs"
        ).is_dir()
        assert TrainingConfig.from_json(run_dir / "config.json") == config


def test_too_little_data_is_explained(tmp_path):
    with pytest.raises(
        ValueError, match=r"Expected at least batch_size=8192 training samples \(frame x camera\)"
    ):
        train(tiny_config(batch_size=8192), tmp_path / "run", verbose=0)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at_step:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_run_resumes_mid_epoch_and_keeps_the_curve(tmp_path):
    config = tiny_config(model="semgcn")
    interrupt_at = STEPS_PER_EPOCH + 5  # mid-way through the second epoch, on a backup step
    with pytest.raises(KeyboardInterrupt):
        # One step later: user callbacks run before the checkpoint, so the interrupt at step k + 1 finds k saved.
        train(config, tmp_path, verbose=0, callbacks=[_Interrupt(interrupt_at + 1)])
    backups = sorted(path.name for path in (tmp_path / "backup").iterdir())
    assert backups == [f"step-{interrupt_at:09d}.npz"] and not (tmp_path / "model.keras").exists()
    result = train(config, tmp_path, verbose=0)
    assert result.resumed_from_step == interrupt_at
    assert (
        int(result.model.optimizer.iterations.numpy()) == result.total_steps == 2 * STEPS_PER_EPOCH
    )
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["resumed_from_step"] == interrupt_at
    assert summary["final_step"] == summary["optimizer_iterations"] == result.total_steps
    with open(tmp_path / "history.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    rates = dict(read_events(tmp_path / "logs" / "train")["step/learning_rate"])
    assert sorted(rates) == list(
        range(result.total_steps)
    )  # every step once, the resumed ones included
    expected = one_cycle_learning_rate(np.arange(result.total_steps), result.total_steps)
    np.testing.assert_allclose([rates[s] for s in range(result.total_steps)], expected, rtol=1e-5)


def test_resumed_data_stream_continues_the_same_order():
    samples = load_samples("synthetic", subjects=("S1",), stride=4, progress=False)

    def stream():  # what `train` builds in each session
        return make_dataset(
            samples, batch_size=64, shuffle=True, seed=0, drop_remainder=True, repeat=True
        )

    batches = [
        targets.numpy() for _, targets in stream().take(20)
    ]  # crosses an epoch boundary (14 batches)
    resumed = [targets.numpy() for _, targets in stream().skip(13).take(7)]
    for expected, actual in zip(batches[13:], resumed):
        np.testing.assert_array_equal(expected, actual)


def test_mixed_precision_keeps_the_mixture_head_in_float32(tmp_path):
    result = train(
        tiny_config(mixed_precision=True, epochs=1, stride=16, image_frames=0), tmp_path, verbose=0
    )
    model = result.model
    assert model.backbone.compute_dtype == "float16" and model.head.compute_dtype == "float32"
    outputs = model(np.zeros((2, 16, 2), np.float32))
    assert {keras.backend.standardize_dtype(tensor.dtype) for tensor in outputs.values()} == {
        "float32"
    }
    with open(tmp_path / "history.csv") as handle:
        assert np.isfinite(float(next(csv.DictReader(handle))["loss"]))
    # Loss scaling skips the first updates (gradients overflow in float16) and does not count them as
    # optimizer iterations; the run still consumes exactly epochs * steps_per_epoch batches.
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["final_step"] == result.total_steps >= summary["optimizer_iterations"] > 0
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def _history_losses(run_dir):
    with open(run_dir / "history.csv") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def test_steps_per_execution_that_does_not_divide_an_epoch_drops_no_step(tmp_path):
    # 28 steps an epoch at 5 a execution: executions of 5, 5, 5, 5, 5 and 3, every epoch. The run must be
    # the run of 1 step a execution: the same steps, rates and (deterministic) weights.
    config = tiny_config(deterministic=True, image_frames=0, validation_frames=64)
    results = {
        per_execution: train(
            config.replace(steps_per_execution=per_execution),
            tmp_path / f"per-execution-{per_execution}",
            verbose=0,
        )
        for per_execution in (1, 5)
    }
    total = 2 * STEPS_PER_EPOCH
    expected_rates = one_cycle_learning_rate(np.arange(total), total)
    for per_execution, result in results.items():
        assert result.steps_per_epoch == STEPS_PER_EPOCH and result.total_steps == total
        summary = json.loads((result.run_dir / "training.json").read_text())
        assert summary["final_step"] == summary["optimizer_iterations"] == total
        # The rate every step used: the optimizer's schedule at that step, which the logged steps read.
        schedule = result.model.optimizer._learning_rate
        np.testing.assert_allclose(
            schedule_rates(schedule, np.arange(total)), expected_rates, rtol=1e-6
        )
        logged = dict(read_events(result.run_dir / "logs" / "train")["step/learning_rate"])
        starts = sorted(logged)  # the first step of every execution
        expected_starts = [
            epoch * STEPS_PER_EPOCH + step
            for epoch in range(2)
            for step in range(0, STEPS_PER_EPOCH, per_execution)
        ]
        assert starts == expected_starts, per_execution
        np.testing.assert_allclose([logged[s] for s in starts], expected_rates[starts], rtol=1e-6)
    one, five = (results[n].model.get_weights() for n in (1, 5))
    for a, b in zip(one, five):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        _history_losses(results[5].run_dir), _history_losses(results[1].run_dir), rtol=1e-5
    )


def test_steps_per_execution_longer_than_an_epoch_runs_each_epoch_whole(tmp_path):
    result = train(
        tiny_config(model="semgcn", steps_per_execution=100, image_frames=0), tmp_path, verbose=0
    )
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["final_step"] == summary["optimizer_iterations"] == result.total_steps == 56


def test_gradients_are_clipped_by_their_global_norm_like_the_reference(smoke_run: TrainResult):
    # The reference clips with torch.nn.utils.clip_grad_norm_(parameters, max_norm=1): one norm over all.
    optimizer = smoke_run.model.optimizer
    assert (
        optimizer.global_clipnorm == smoke_run.config.clipnorm == 1.0 and optimizer.clipnorm is None
    )
    gradients = [
        np.full((3,), 3.0, np.float32),
        np.full((4,), 4.0, np.float32),
    ]  # global norm sqrt(91)
    clipped = [
        np.asarray(g)
        for g in optimizer._clip_gradients([keras.ops.convert_to_tensor(g) for g in gradients])
    ]
    scale = 1.0 / np.sqrt(3 * 9.0 + 4 * 16.0)
    for original, result in zip(gradients, clipped):
        np.testing.assert_allclose(result, original * scale, rtol=1e-5)


class _PoisonWeights(keras.callbacks.Callback):
    """Sets every weight to NaN after step `at_step`, so the next loss is NaN."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at_step:
            for variable in self.model.trainable_variables:
                variable.assign(np.full(variable.shape, np.nan, variable.dtype))


def test_a_diverged_run_raises_training_diverged_and_keeps_the_last_finite_checkpoint(tmp_path):
    with pytest.raises(
        TrainingDiverged,
        match=r"Training diverged \(loss nan\) near step 8; .*backup keeps the last "
        r"finite state \(step 5\)",
    ) as raised:
        train(tiny_config(model="semgcn"), tmp_path, verbose=0, callbacks=[_PoisonWeights(7)])
    assert isinstance(raised.value, FloatingPointError)
    assert [path.name for path in (tmp_path / "backup").glob("step-*")] == ["step-000000005.npz"]
    assert not (tmp_path / "model.keras").exists()


def test_a_checkpoint_of_another_model_is_refused_naming_it(tmp_path):
    config = tiny_config(model="semgcn", epochs=1)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, verbose=0, callbacks=[_Interrupt(6)])
    checkpoint = tmp_path / "backup" / "step-000000005.npz"
    other = tiny_config(model="semgcn", epochs=1, hidden_dim=8)
    other.to_json(tmp_path / "config.json")  # as if the settings had been edited by hand
    with pytest.raises(ValueError, match=rf"{checkpoint}: not a checkpoint of this model"):
        train(other, tmp_path, verbose=0)


def test_validation_uses_its_own_subjects_when_given():
    default = TrainingData.load(tiny_config(validation_frames=0), progress=False)
    assert set(default.validation.subjects) == {"S9", "S11"}  # the paper's: the test subjects
    separate = TrainingData.load(
        tiny_config(validation_frames=0, validation_subjects="S8"), progress=False
    )
    assert (
        set(separate.validation.subjects) == {"S8"}
        and separate.steps_per_epoch == default.steps_per_epoch
    )


def test_validation_holdout_is_the_end_of_every_training_sequence():
    whole = TrainingData.load(tiny_config(validation_frames=0), progress=False)
    held = TrainingData.load(
        tiny_config(validation_frames=0, validation_holdout=0.25), progress=False
    )
    assert set(held.validation.subjects) == set(whole.train.subjects)
    assert len(held.train) + len(held.validation) == len(whole.train)
    runs = collections.Counter(
        zip(whole.train.subjects, whole.train.actions, whole.train.cameras)
    ).values()
    assert len(held.validation) == sum(round(0.25 * frames) for frames in runs)
    training_poses = {pose.tobytes() for pose in held.train.targets_3d}
    assert not any(pose.tobytes() in training_poses for pose in held.validation.targets_3d)
    with pytest.raises(ValueError, match="either validation_holdout or validation_subjects"):
        tiny_config(validation_holdout=0.1, validation_subjects="S8")
    with pytest.raises(ValueError, match=r"validation_holdout in \[0, 1\)"):
        tiny_config(validation_holdout=1.0)
    with pytest.raises(ValueError, match=r"validation_holdout=0.01 to hold out at least one frame"):
        TrainingData.load(tiny_config(validation_holdout=0.01, stride=8), progress=False)


def test_training_json_records_every_epochs_wall_time(smoke_run: TrainResult):
    epochs = json.loads((smoke_run.run_dir / "training.json").read_text())["epochs"]
    assert [entry["epoch"] for entry in epochs] == [0, 1]
    assert all(entry["train_seconds"] > 0 and entry["validation_seconds"] > 0 for entry in epochs)
    with open(smoke_run.run_dir / "history.csv") as handle:
        header = next(csv.reader(handle))
    assert {"train_seconds", "validation_seconds"} <= set(header)
