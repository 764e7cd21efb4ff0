"""REST and gRPC clients against the TF Serving test double, `graphmdn-tf predict`, and docs/serving.md.

The server here is `serving_test_server.ServingTestServer`, a test double of TensorFlow Serving's
documented REST and gRPC APIs (TF Serving itself cannot be installed on the test machines). It
serves the models.config of docs/serving.md: version 1 a pose-level GraphMDN (label "stable"),
version 2 a node-level one (label "canary", the latest), and version 3 on disk but outside the
version policy.
"""

import json
import re
import shlex
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import hypotheses
from graphmdn_tf.cli import main
from graphmdn_tf.export import export_saved_model
from graphmdn_tf.serving import (
    GrpcClient,
    RestClient,
    ServingError,
    ServingTimeoutError,
    ServingUnavailableError,
)
from tests.integration.serving_checks import (
    NUM_KERNELS,
    TOLERANCE,
    assert_outputs_close,
    expected_outputs,
    keypoints,
    normalise_on_client,
    pixel_inputs,
    small_model,
    xla_compiled_functions,
)
from tests.integration.serving_test_server import ServingTestServer

SERVING_DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
NUM_SAMPLES = 5


def doc_blocks(language: str) -> list[str]:
    """The fenced code blocks in `language` of docs/serving.md, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", SERVING_DOC.read_text(), flags=re.M | re.S)


def shell_commands(block: str) -> list[str]:
    """A bash block -> its commands (continuation lines and multi-line quoted arguments joined)."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending += line + "\n"
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # inside a quoted argument that goes on
            continue
        if not line.rstrip().endswith("\\") and pending.strip():
            commands.append(pending.strip())
            pending = ""
    assert not pending.strip(), f"unterminated command in {SERVING_DOC}: {pending!r}"
    return commands


@dataclass
class Served:
    server: ServingTestServer
    models: dict  # version -> Keras model

    def rest(self, **kwargs) -> RestClient:
        return RestClient(self.server.rest_url, model_name="graphmdn", **kwargs)

    def grpc(self, **kwargs) -> GrpcClient:
        return GrpcClient(self.server.grpc_target, model_name="graphmdn", **kwargs)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The test double serving the documented models.config over two exports; stopped after the module."""
    base = tmp_path_factory.mktemp("models")
    models = {1: small_model("pose"), 2: small_model("node")}
    for version, model in models.items():
        export_saved_model(model, base, name="graphmdn", version=version, num_samples=NUM_SAMPLES)
    shutil.copytree(base / "graphmdn" / "1", base / "graphmdn" / "3")
    (config,) = [block for block in doc_blocks("text") if "model_config_list" in block]
    assert 'base_path: "/models/graphmdn"' in config
    config = config.replace('"/models/graphmdn"', json.dumps(str(base / "graphmdn")))
    with ServingTestServer.from_config_text(config) as server:
        yield Served(server, models)


@pytest.fixture
def grpc_client(served):
    with served.grpc(timeout=30) as client:
        yield client


@pytest.mark.parametrize("named", [False, True], ids=["array", "dict"])
@pytest.mark.parametrize("request_format", ["instances", "inputs"])
def test_rest_predict_in_both_formats_equals_the_model(served, request_format, named):
    x = keypoints(np.random.default_rng(1), 7)
    inputs = {"keypoints": x} if named else x
    result = served.rest().predict(inputs, format=request_format)
    assert_outputs_close(
        result, expected_outputs(served.models[2], x)
    )  # latest version: node level
    assert result["pi"].shape == (7, NUM_KERNELS, 16)


def test_rest_routes_versions_and_labels(served):
    client = served.rest()
    x = keypoints(np.random.default_rng(2), 4)
    pose_level = expected_outputs(served.models[1], x)
    assert_outputs_close(client.predict(x, version=1), pose_level)
    assert_outputs_close(client.predict(x, label="stable", format="inputs"), pose_level)
    assert_outputs_close(client.predict(x, label="canary"), expected_outputs(served.models[2], x))
    assert client.status() == {1: "AVAILABLE", 2: "AVAILABLE"}
    assert client.status(version=1) == {1: "AVAILABLE"}
    assert client.status(label="canary") == {2: "AVAILABLE"}
    with pytest.raises(
        ServingError, match=r"HTTP 404 NOT_FOUND .*/versions/3:predict: .*Specific\(graphmdn, 3\)"
    ):
        client.predict(x, version=3)  # on disk, but not in the version policy
    with pytest.raises(ServingError, match="Unrecognized servable version label: nightly") as error:
        client.predict(x, label="nightly")
    assert error.value.http_status == 400
    with pytest.raises(ServingError, match="NOT_FOUND") as error:
        RestClient(served.server.rest_url, model_name="unknown").status()
    assert error.value.http_status == 404
    with pytest.raises(ValueError, match="Pass a version or a label, not both"):
        client.predict(x, version=1, label="stable")


@pytest.mark.parametrize("request_format", ["instances", "inputs"])
def test_rest_names_a_single_output_from_the_metadata(served, request_format):
    x = keypoints(np.random.default_rng(3), 6)
    result = served.rest().predict(x, signature_name="sample", format=request_format, version=1)
    assert list(result) == ["samples"] and result["samples"].shape == (6, NUM_SAMPLES, 16, 3)
    expected = hypotheses.sample_poses(
        served.models[1](x, training=False), NUM_SAMPLES, seed=(0, 0)
    ).numpy()
    np.testing.assert_allclose(
        result["samples"], expected.transpose(1, 0, 2, 3), rtol=0, atol=TOLERANCE
    )


def test_rest_from_pixels_row_format_equals_normalising_on_the_client(served):
    client = served.rest()
    inputs = pixel_inputs(np.random.default_rng(4), 5)
    from_pixels = client.predict(
        inputs, signature_name="from_pixels"
    )  # row format: scalar sizes per instance
    assert_outputs_close(from_pixels, client.predict(normalise_on_client(inputs)))
    columnar = client.predict(inputs, signature_name="from_pixels", format="inputs", version=1)
    assert_outputs_close(columnar, client.predict(normalise_on_client(inputs), version=1))


def test_rest_metadata_lists_the_signatures(served):
    metadata = served.rest().metadata(version=1)
    assert metadata["name"] == "graphmdn" and metadata["version"] == 1
    signatures = metadata["signatures"]
    assert sorted(signatures) == ["from_pixels", "sample", "serving_default"]
    assert signatures["serving_default"]["inputs"] == {
        "keypoints": {"dtype": "DT_FLOAT", "shape": (-1, 16, 2)}
    }
    assert signatures["serving_default"]["outputs"]["pi"] == {
        "dtype": "DT_FLOAT",
        "shape": (-1, NUM_KERNELS),
    }
    assert signatures["sample"]["outputs"] == {
        "samples": {"dtype": "DT_FLOAT", "shape": (-1, NUM_SAMPLES, 16, 3)}
    }
    assert signatures["from_pixels"]["inputs"]["image_width"] == {
        "dtype": "DT_FLOAT",
        "shape": (-1,),
    }
    assert all(s["method_name"] == "tensorflow/serving/predict" for s in signatures.values())
    latest = served.rest().metadata(label="canary")["signatures"]["serving_default"]["outputs"][
        "pi"
    ]
    assert latest["shape"] == (-1, NUM_KERNELS, 16)


def test_rest_invalid_inputs_are_http_400_with_the_models_message(served):
    client = served.rest()
    x = keypoints(np.random.default_rng(5), 3)
    x[1, 4, 0] = np.nan
    with pytest.raises(ServingError, match="Expected keypoints to be finite") as error:
        client.predict(x)  # sent as a NaN token
    assert (error.value.http_status, error.value.code) == (400, "INVALID_ARGUMENT")
    x[1, 4, 0] = np.inf
    with pytest.raises(ServingError, match="Expected keypoints to be finite"):
        client.predict({"keypoints": x}, format="inputs", version=1)
    with pytest.raises(
        ServingError, match=r"Expected keypoints of shape \[batch, 16, 2\]\. Received shape"
    ) as error:
        client.predict(np.zeros((2, 17, 2), np.float32))
    assert error.value.http_status == 400
    inputs = pixel_inputs(np.random.default_rng(6), 2)
    inputs["image_height"][0] = 0.0
    with pytest.raises(
        ServingError, match=r"Expected image_height within \[1, 65536\] pixels"
    ) as error:
        client.predict(inputs, signature_name="from_pixels")
    assert error.value.http_status == 400
    x = keypoints(np.random.default_rng(5), 3)
    x[2, 9, 1] = 1e30
    with pytest.raises(
        ServingError, match=re.escape("Expected keypoints within [-100, 100]")
    ) as error:
        client.predict(x)
    assert (error.value.http_status, error.value.code) == (400, "INVALID_ARGUMENT")
    with pytest.raises(ServingError, match='Serving signature key "missing" not found') as error:
        client.predict(x, signature_name="missing")
    assert error.value.http_status == 400


def test_rest_double_refuses_mixed_formats(served):
    body = json.dumps({"instances": [[[0.0, 0.0]] * 16], "inputs": [[[0.0, 0.0]] * 16]}).encode()
    request = urllib.request.Request(
        f"{served.server.rest_url}/v1/models/graphmdn:predict", data=body
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 400
    assert "cannot mix" in json.loads(error.value.read())["error"]


def test_grpc_predict_routes_versions_and_labels(served, grpc_client):
    x = keypoints(np.random.default_rng(7), 7)
    node_level, pose_level = (
        expected_outputs(served.models[2], x),
        expected_outputs(served.models[1], x),
    )
    assert_outputs_close(grpc_client.predict(x), node_level)
    assert_outputs_close(grpc_client.predict({"keypoints": x}, label="canary"), node_level)
    assert_outputs_close(grpc_client.predict(x, version=1), pose_level)
    assert_outputs_close(grpc_client.predict(x, label="stable"), pose_level)
    samples = grpc_client.predict(x, signature_name="sample", label="stable")["samples"]
    assert samples.shape == (7, NUM_SAMPLES, 16, 3)
    inputs = pixel_inputs(np.random.default_rng(8), 7)
    assert_outputs_close(
        grpc_client.predict(inputs, signature_name="from_pixels"),
        grpc_client.predict(normalise_on_client(inputs)),
    )


def test_grpc_metadata_equals_the_rest_metadata(served, grpc_client):
    for routing in ({}, {"version": 1}, {"label": "canary"}):
        assert grpc_client.metadata(**routing) == served.rest().metadata(**routing)
    assert grpc_client.metadata()["version"] == 2


def test_grpc_errors_carry_the_status_code(served, grpc_client):
    x = keypoints(np.random.default_rng(9), 2)
    x[0, 0, 1] = np.nan
    with pytest.raises(ServingError, match="Expected keypoints to be finite") as error:
        grpc_client.predict(x)
    assert error.value.code == "INVALID_ARGUMENT" and error.value.http_status is None
    with pytest.raises(
        ServingError, match=r"Expected keypoints of shape \[batch, 16, 2\]"
    ) as error:
        grpc_client.predict({"keypoints": np.zeros((2, 16, 3), np.float32)})
    assert error.value.code == "INVALID_ARGUMENT"
    with pytest.raises(
        ServingError, match="expected to be a float tensor but is a double tensor"
    ) as error:
        grpc_client.predict({"keypoints": np.zeros((2, 16, 2), np.float64)})
    assert error.value.code == "INVALID_ARGUMENT"
    with pytest.raises(ServingError, match=r"Specific\(graphmdn, 3\)") as error:
        grpc_client.predict(x, version=3)
    assert error.value.code == "NOT_FOUND"


class _RecordsTimeouts:
    """Wraps a client's transport (urllib opener or gRPC stub) and records the timeout of every call."""

    def __init__(self, transport):
        self.transport, self.timeouts = transport, []

    def __getattr__(self, name):
        method = getattr(self.transport, name)

        def recorded(request, timeout):
            self.timeouts.append(timeout)
            return method(request, timeout=timeout)

        return recorded


def test_clients_time_out_on_a_slow_server(served):
    """The server stalls until released (60 s at most), so only the client's own deadline can end the call:
    the verdict is what the client decided (DEADLINE_EXCEEDED, with the configured deadline passed to its
    transport), never how fast the machine was."""
    x = keypoints(np.random.default_rng(10), 1)
    rest, grpc_client = served.rest(timeout=0.3), served.grpc(timeout=0.3)
    rest._opener, grpc_client._stub = (
        _RecordsTimeouts(rest._opener),
        _RecordsTimeouts(grpc_client._stub),
    )
    served.server.delay_s = 60.0
    try:
        for client, transport in ((rest, rest._opener), (grpc_client, grpc_client._stub)):
            with pytest.raises(ServingTimeoutError) as error:
                client.predict({"keypoints": x})
            assert error.value.code == "DEADLINE_EXCEEDED"
            assert transport.timeouts and set(transport.timeouts) == {0.3}
    finally:
        served.server.release_stalls()
        grpc_client.close()


def test_clients_report_a_refused_connection():
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        ServingUnavailableError, match=rf"127\.0\.0\.1:{port}/v1/models/graphmdn: cannot reach"
    ):
        RestClient(f"http://127.0.0.1:{port}", timeout=5).status()
    with GrpcClient(f"127.0.0.1:{port}", timeout=5) as client:
        with pytest.raises(ServingUnavailableError) as error:
            client.predict({"keypoints": np.zeros((1, 16, 2), np.float32)})
    assert error.value.code == "UNAVAILABLE"


def test_predict_command_over_rest_and_grpc(served, tmp_path, capsys):
    x = keypoints(np.random.default_rng(12), 7)
    np.save(tmp_path / "poses.npy", x)
    rest_out = tmp_path / "rest.npz"
    rest = [
        "predict",
        "--server",
        served.server.rest_url,
        "--rest",
        "--input",
        str(tmp_path / "poses.npy"),
    ]
    assert main([*rest, "--output", str(rest_out)]) == 0
    assert f"Wrote {rest_out}: highest_pose (7, 16, 3)" in capsys.readouterr().out
    with np.load(rest_out) as result:
        assert_outputs_close(dict(result), expected_outputs(served.models[2], x))

    inputs = pixel_inputs(np.random.default_rng(13), 7)
    np.savez(tmp_path / "pixels.npz", **inputs)
    grpc_out = tmp_path / "grpc.npz"
    grpc_command = [
        "predict",
        "--server",
        served.server.grpc_target,
        "--grpc",
        "--input",
        str(tmp_path / "pixels.npz"),
        "--output",
        str(grpc_out),
        "--signature",
        "from_pixels",
        "--model",
        "graphmdn",
        "--version",
        "1",
    ]
    assert main(grpc_command) == 0
    with np.load(grpc_out) as result:
        assert_outputs_close(
            dict(result), expected_outputs(served.models[1], normalise_on_client(inputs))
        )

    before = rest_out.read_bytes()
    assert main([*rest, "--output", str(rest_out)]) == 2
    assert f"Refusing to overwrite {rest_out}" in capsys.readouterr().err
    assert rest_out.read_bytes() == before
    x[0, 0, 0] = np.nan
    np.save(tmp_path / "bad.npy", x)
    bad = [
        "predict",
        "--server",
        served.server.grpc_target,
        "--grpc",
        "--input",
        str(tmp_path / "bad.npy"),
    ]
    assert main([*bad, "--output", str(tmp_path / "bad.npz")]) == 2
    assert "INVALID_ARGUMENT" in capsys.readouterr().err and not (tmp_path / "bad.npz").exists()


def test_predict_command_refuses_pickled_and_damaged_inputs_naming_the_file(tmp_path, capsys):
    holder = np.empty(2, dtype=object)
    holder[:] = [keypoints(np.random.default_rng(16), 1), "text"]
    np.save(tmp_path / "pickled.npy", holder, allow_pickle=True)
    np.savez(tmp_path / "pickled.npz", keypoints=holder)
    (tmp_path / "damaged.npz").write_bytes(b"PK\x03\x04 not really a zip")
    for name in ("pickled.npy", "pickled.npz", "damaged.npz"):
        out = tmp_path / f"{name}.out.npz"
        command = [
            "predict",
            "--server",
            "http://127.0.0.1:9",
            "--rest",
            "--input",
            str(tmp_path / name),
        ]
        assert main([*command, "--output", str(out)]) == 2
        error = capsys.readouterr().err
        assert (
            error.startswith(f"graphmdn-tf predict: error: --input {tmp_path / name}: ")
            and error.count("\n") == 1
        ), error
        assert ("pickled objects" in error) == name.startswith("pickled") and not out.exists()


def _on_test_server(command: str, served: Served) -> str:
    return command.replace("http://localhost:8501", served.server.rest_url).replace(
        "localhost:8500", served.server.grpc_target
    )


def test_documented_shell_commands_run(served, tmp_path, monkeypatch, capsys):
    """Every command in docs/serving.md's bash blocks runs here, except the `docker run` lines."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "standard").mkdir(parents=True)
    served.models[1].save(tmp_path / "runs" / "standard" / "model.keras")
    np.save(tmp_path / "poses.npy", keypoints(np.random.default_rng(14), 3))
    ran = {"graphmdn-tf": 0, "curl": 0, "docker": 0}
    for block in doc_blocks("bash"):
        for command in shell_commands(block):
            program = command.split()[0]
            assert program in ran, f"{SERVING_DOC} shows a command no test runs: {command}"
            ran[program] += 1
            if program == "docker":  # needs a Docker engine and the tensorflow/serving image
                continue
            if program == "graphmdn-tf":
                assert (
                    main(shlex.split(_on_test_server(command, served), comments=True)[1:]) == 0
                ), command
                continue
            completed = subprocess.run(
                ["bash", "-c", _on_test_server(command, served)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert completed.returncode == 0, (command, completed.stderr)
            response = json.loads(completed.stdout)
            assert "error" not in response, (command, response)
            if "predictions" in response:
                assert np.asarray(response["predictions"][0]["mean_pose"]).shape == (16, 3)
    assert ran == {"graphmdn-tf": 7, "curl": 3, "docker": 3}
    loaded = tf.saved_model.load(str(tmp_path / "saved_models" / "graphmdn" / "2"))
    assert loaded.signatures["sample"].structured_outputs["samples"].shape[1] == 20
    assert sorted(p.name for p in (tmp_path / "saved_models" / "graphmdn").iterdir()) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert (tmp_path / "saved_models" / "graphmdn" / "4" / "model.onnx").is_file()
    assert (tmp_path / "saved_models" / "graphmdn" / "5" / "model.tflite").is_file()
    assert xla_compiled_functions(tmp_path / "saved_models" / "graphmdn" / "3")
    assert not xla_compiled_functions(tmp_path / "saved_models" / "graphmdn" / "1")
    with np.load(tmp_path / "samples.npz") as samples:
        assert samples["samples"].shape == (3, NUM_SAMPLES, 16, 3)
    with np.load(tmp_path / "result.npz") as result:
        assert result["mean_pose"].shape == (3, 16, 3)


def test_documented_python_example_runs(served, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "poses.npy", keypoints(np.random.default_rng(15), 4))
    (example,) = doc_blocks("python")
    namespace = {"__name__": "serving_example"}
    exec(compile(_on_test_server(example, served), str(SERVING_DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "{1: 'AVAILABLE', 2: 'AVAILABLE'}" in printed and "(4, 16, 3)" in printed
    assert "INVALID_ARGUMENT 400 Expected keypoints to be finite" in printed
    assert namespace["samples"].shape == (4, NUM_SAMPLES, 16, 3)
    assert_outputs_close(namespace["from_pixels"], namespace["result"], atol=TOLERANCE)
    assert namespace["columns"]["pi"].shape == (4, NUM_KERNELS)
