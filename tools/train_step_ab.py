"""Interleaved A/B of training throughput in one process: the default `train` step of today's code
against the previous default (XLA off, the learning rate assigned from the host before every step), on
the same data, alternating timed segments so that every variant sees the same machine load.

    python tools/train_step_ab.py --data-dir ../shared/data/cmu [--steps 40] [--rounds 3]

Variants: 'host-lr, no XLA' (the previous default: a float learning rate that a callback sets from
`optimizer.iterations` before every step), 'schedule, no XLA', 'schedule, XLA' (the default now), and
'schedule, XLA, steps_per_execution 8'. Prints samples/s per round and the median ratio to the first.
"""

import argparse
import statistics
import time

import keras

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.models.build import build_model
from graphmdn_tf.training.fit import TrainingData
from graphmdn_tf.training.one_cycle import config_schedule, one_cycle_learning_rate


class _HostLearningRate(keras.callbacks.Callback):
    """The previous schedule callback: the rate assigned from the host before every execution."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        step = int(optimizer.iterations.numpy())
        optimizer.learning_rate = float(one_cycle_learning_rate(step, self.total_steps))


def _variant(config, data, schedule_in_step, jit_compile, steps_per_execution):
    model = build_model(config)
    learning_rate = (
        config_schedule(config, data.total_steps)
        if schedule_in_step
        else config.initial_learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=config.clipnorm),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    callbacks = [] if schedule_in_step else [_HostLearningRate(data.total_steps)]
    return model, callbacks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = TrainingConfig.from_preset("standard", dataset="cmu", data_dir=args.data_dir)
    data = TrainingData.load(config, progress=False)
    variants = {
        "host-lr, no XLA (previous default)": (False, False, 1),
        "schedule, no XLA": (True, False, 1),
        "schedule, XLA (default)": (True, True, 1),
        "schedule, XLA, steps_per_execution 8": (True, True, 8),
    }
    built = {name: _variant(config, data, *spec) for name, spec in variants.items()}
    rates = {name: [] for name in variants}
    position = 0
    for round_index in range(args.rounds + 1):  # round 0 traces and compiles
        for name, (model, callbacks) in built.items():
            stream = data.stream(config, position, args.steps)
            start = time.perf_counter()
            model.fit(stream, epochs=1, verbose=0, callbacks=callbacks, shuffle=False)
            seconds = time.perf_counter() - start
            position += args.steps
            if round_index:
                rates[name].append(args.steps * config.batch_size / seconds)
        if round_index:
            print(
                f"round {round_index}: " + ", ".join(f"{n}: {r[-1]:.0f}" for n, r in rates.items())
            )
    first = next(iter(rates.values()))
    for name, values in rates.items():
        ratios = [value / base for value, base in zip(values, first)]
        print(
            f"{name}: median {statistics.median(values):.0f} samples/s, "
            f"median ratio to the previous default {statistics.median(ratios):.2f} "
            f"(per round {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    print(f"{len(data.train)} training samples, batch {config.batch_size}")


if __name__ == "__main__":
    main()
