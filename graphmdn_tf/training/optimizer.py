"""The training optimizer: Adam whose gradient clipping sees the gradient of the global batch.

Under a distribution strategy with several replicas, Keras' optimizer clips each replica's gradient
before it sums them (`keras.optimizers.Optimizer.apply` clips in the replica's step, and the TensorFlow
optimizer sums the replicas' gradients in its update), so a clipped update is the sum of the replicas'
clipped shares, not the clipped gradient of the global batch:

    Keras:        sum_r clip(g_r)
    GlobalBatchAdam: clip(sum_r g_r)    (what one device computes on the same global batch)

`GlobalBatchAdam` sums the replicas' gradients first and clips the sum, then updates with it (the sum
is taken once). On one device it is Adam.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class GlobalBatchAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` that clips the sum of the replicas' gradients (see the module docstring).

    Its arguments, variables and saved form are Adam's; `clipnorm`, `global_clipnorm` and `clipvalue`
    apply to the global batch's gradient under any number of replicas.

    Example:
        >>> with tf.distribute.MirroredStrategy().scope():
        ...     model.compile(optimizer=GlobalBatchAdam(1e-3, global_clipnorm=1.0))
    """

    def _clip_gradients(self, grads):
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            present = [grad for grad in grads if grad is not None]
            summed = iter(replica.all_reduce(tf.distribute.ReduceOp.SUM, present))
            grads = [None if grad is None else next(summed) for grad in grads]
        return super()._clip_gradients(grads)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # The replicas' gradients reach the update already summed (`_clip_gradients`).
        return list(grads_and_vars)
