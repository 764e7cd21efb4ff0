"""The levels a mixture density head places its mixture at, as plain data (read by the config and the
command line without Keras): 'pose' (one mixture over whole poses, paper Eq. 6-9) or 'node' (one per
joint, Eq. 1-5)."""

MIXTURE_LEVELS = ("pose", "node")
