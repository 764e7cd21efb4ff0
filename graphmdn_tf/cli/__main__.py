"""`python -m graphmdn_tf.cli`: the `graphmdn-tf` command."""

import sys

from graphmdn_tf.cli import main

if __name__ == "__main__":
    sys.exit(main())
