"""`graphmdn-tf lift KEYPOINTS` with no model named: the trained preset shipped in the package."""

import numpy as np

from graphmdn_tf.cli import main
from graphmdn_tf.lifting import lift
from graphmdn_tf.models import pretrained_path
from tests.data.keypoint_files import cmu_pixels


def test_lift_without_a_model_uses_the_shipped_one_and_says_so(shared_dir, tmp_path, capsys):
    pixels = cmu_pixels(shared_dir, frames=8)
    keypoints = tmp_path / "walk.npy"
    np.save(keypoints, pixels)
    flags = ["--output-dir", tmp_path / "out", "--image-size", "1000", "1002", "--format", "h36m17"]
    code = main([str(argument) for argument in ["lift", keypoints, *flags]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (
        f"graphmdn-tf lift: no model named; using {pretrained_path()}: a demonstration GraphMDN"
        in captured.err
    )
    assert "not a Human3.6M model" in captured.err and "Lifted 8 records" in captured.out
    expected = lift(
        pretrained_path(), pixels, image_size=(1000, 1002), format="h36m17", progress=False
    )
    with np.load(tmp_path / "out" / "walk.npz") as written:
        assert np.isfinite(written["mu"]).all()
        np.testing.assert_allclose(written["mu"], expected.mu, atol=1e-6)
