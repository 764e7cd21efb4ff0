"""Reading the authors' `.pth.tar` checkpoint format (needs the `torch` extra, installed by CI)."""

import json
import sys

import numpy as np
import pytest
import torch

from graphmdn_tf.convert import from_reference_state_dict, read_reference_checkpoint


def test_checkpoint_round_trip_reproduces_the_reference(shared_dir, tmp_path):
    data = np.load(shared_dir / "reference" / "parity" / "node_level_hid64_l2_k3.npz")
    config = json.loads(str(data["config"]))
    state_dict = {
        k[2:]: torch.from_numpy(np.array(data[k])) for k in data.files if k.startswith("w/")
    }
    state_dict["gconv_input.0.bn.num_batches_tracked"] = torch.tensor(12, dtype=torch.long)
    path = tmp_path / "ckpt_best.pth.tar"
    # The layout the reference training script saves.
    torch.save(
        {"epoch": 2, "lr": 1e-3, "step": 100, "state_dict": state_dict, "optimizer": {}}, path
    )
    model = from_reference_state_dict(
        read_reference_checkpoint(path),
        hidden_dim=config["hid_dim"],
        num_blocks=config["num_layers"],
        num_kernels=config["num_gaussians"],
        mixture_level="node",
    )
    out = model(data["input"], training=False)
    np.testing.assert_allclose(
        np.transpose(out["mu"].numpy(), (0, 2, 1, 3)), data["mu"], atol=1e-4, rtol=0
    )


class _Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"x": torch.zeros(2)}, "extra": _Payload()}, path)
    with pytest.raises(Exception, match="Weights only load failed|Unsupported global"):
        read_reference_checkpoint(path)


def test_missing_file_and_missing_torch(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="No checkpoint file at .*absent.pth.tar"):
        read_reference_checkpoint(tmp_path / "absent.pth.tar")
    path = tmp_path / "present.pth.tar"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'graphmdn-tf\[torch\]'"):
        read_reference_checkpoint(path)
