"""`graphmdn-tf bench`: what the package achieves on this machine.

- `bench` / `bench throughput` (`graphmdn_tf.bench.throughput`): training and inference samples/s and
  FLOP/s against the machine's own float32 matmul peak.
- `bench accuracy` (`graphmdn_tf.bench.accuracy`): Protocol #1 / #2 of GraphMDN and SemGCN trained
  with the default settings on a real data set, over several seeds.

The `bench` command line itself is `graphmdn_tf.cli.bench`.
"""
