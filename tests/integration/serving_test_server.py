"""TEST DOUBLE of TensorFlow Serving, for testing `graphmdn_tf.serving` only. It is NOT a model server.

TensorFlow Serving's `tensorflow_model_server` cannot be installed on the machines the tests run on,
so this module stands in for it: it implements the part of TF Serving's documented REST API that the
clients use (`GET /v1/models/NAME[/versions/N|/labels/L][/metadata]`, `POST ...:predict` in the row
and columnar formats, `{"error": ...}` bodies, NaN/Infinity tokens) and the official gRPC
`tensorflow.serving.PredictionService` (`Predict`, `GetModelMetadata`, generated stubs from
`tensorflow-serving-api`), over SavedModels loaded with `tf.saved_model.load`. Models, version
policies and version labels come from a TF Serving `models.config` (text `ModelServerConfig`).

It lives under tests/ and is never shipped: serve real traffic with the `tensorflow/serving` Docker
image (README, "Serving"). It binds 127.0.0.1 only, has no batching, no config reload, no
Classify/Regress/MultiInference, and a `delay_s` knob that stalls predictions to test client timeouts.

Usage:
    with ServingTestServer.from_config_text(text) as server:
        RestClient(server.rest_url).predict(...); GrpcClient(server.grpc_target).predict(...)
"""

from __future__ import annotations

import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format, text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

LOOPBACK = "127.0.0.1"

# Canonical status -> HTTP status, as TF Serving's REST API maps them.
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}

# What eager Python puts before a graph error's own message; TF Serving's C++ status has only the message.
_PYTHON_ERROR_PREFIX = re.compile(
    r"^Graph execution error:\s*(Detected at node .*?<stack traces unavailable>\s*)?", re.S
)

_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<action>/metadata|:predict)?$"
)


class ServingStatus(Exception):
    """A request error with its canonical gRPC status, as TF Serving would report it."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _served_versions(config) -> dict[int, Path]:
    """Version -> directory under `base_path`, filtered by the model's version policy (default: latest 1)."""
    base = Path(config.base_path)
    available = sorted(
        int(path.name) for path in base.iterdir() if path.is_dir() and path.name.isdigit()
    )
    policy = config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        chosen = available
    elif choice == "specific":
        wanted = set(policy.specific.versions)
        chosen = [version for version in available if version in wanted]
    else:
        chosen = available[-(policy.latest.num_versions or 1) :] if available else []
    if not chosen:
        raise ValueError(f"No servable version of model {config.name!r} under {base}")
    return {version: base / str(version) for version in chosen}


class ModelRepository:
    """The loaded models of a `ModelServerConfig`: routing, metadata, predictions (protocol-free)."""

    def __init__(self, config: model_server_config_pb2.ModelServerConfig):
        self.models: dict[str, dict[int, object]] = {}
        self.paths: dict[str, dict[int, Path]] = {}
        self.labels: dict[str, dict[str, int]] = {}
        for model in config.model_config_list.config:
            self.paths[model.name] = _served_versions(model)
            self.models[model.name] = {
                version: tf.saved_model.load(str(path))
                for version, path in self.paths[model.name].items()
            }
            for label, version in model.version_labels.items():
                if version not in self.models[model.name]:
                    raise ValueError(
                        f"Label {label!r} of model {model.name!r} points at unloaded version {version}"
                    )
            self.labels[model.name] = dict(model.version_labels)

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> int:
        if name not in self.models:
            raise ServingStatus(
                grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})"
            )
        if label:
            if label not in self.labels[name]:
                raise ServingStatus(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Unrecognized servable version label: {label}",
                )
            return self.labels[name][label]
        if version is None:
            return max(self.models[name])
        if version not in self.models[name]:
            raise ServingStatus(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Specific({name}, {version})",
            )
        return version

    def signature_def_map(self, name: str, version: int) -> get_model_metadata_pb2.SignatureDefMap:
        saved_model = saved_model_pb2.SavedModel()
        saved_model.ParseFromString((self.paths[name][version] / "saved_model.pb").read_bytes())
        (meta_graph,) = [
            graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags
        ]
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in meta_graph.signature_def.items():
            if not key.startswith("__"):
                signature_map.signature_def[key].CopyFrom(signature)
        return signature_map

    def signature(self, name: str, version: int, signature_name: str):
        signatures = self.models[name][version].signatures
        if signature_name not in signatures:
            raise ServingStatus(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'Serving signature key "{signature_name}" not found.',
            )
        return signatures[signature_name]

    def predict(
        self, name: str, version: int, signature_name: str, inputs: dict
    ) -> dict[str, np.ndarray]:
        function = self.signature(name, version, signature_name)
        expected = sorted(function.structured_input_signature[1])
        if sorted(inputs) != expected:
            raise ServingStatus(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Signature {signature_name!r} expects inputs {expected}. Received: {sorted(inputs)}",
            )
        try:
            outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
        except tf.errors.OpError as error:
            code = _STATUS_BY_NUMBER.get(error.error_code, grpc.StatusCode.INTERNAL)
            raise ServingStatus(code, _PYTHON_ERROR_PREFIX.sub("", error.message)) from None
        except (TypeError, ValueError) as error:
            raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        return {key: value.numpy() for key, value in outputs.items()}


def _parse_rest_inputs(body, input_specs: dict) -> tuple[dict, bool]:
    """A REST predict body -> (input key -> array in the signature's dtype, whether it used the row format)."""
    if ("instances" in body) == ("inputs" in body):
        raise ServingStatus(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Missing 'inputs' or 'instances' key, or both given (one request cannot mix the two formats)",
        )
    row_format = "instances" in body
    data = body["instances"] if row_format else body["inputs"]
    if row_format and not isinstance(data, list):
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, "'instances' must be a list")
    named = (
        (bool(data) and all(isinstance(row, dict) for row in data))
        if row_format
        else isinstance(data, dict)
    )
    if named:
        keys = set(data[0]) if row_format else set(data)
        if row_format and any(set(row) != keys for row in data):
            raise ServingStatus(
                grpc.StatusCode.INVALID_ARGUMENT, "Every instance must have the same input keys"
            )
        values = {key: [row[key] for row in data] if row_format else data[key] for key in keys}
    elif len(input_specs) == 1:
        values = {next(iter(input_specs)): data}
    else:
        raise ServingStatus(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The signature has inputs {sorted(input_specs)}: name them in each instance",
        )
    arrays = {}
    for key, value in values.items():
        dtype = input_specs[key].dtype.as_numpy_dtype if key in input_specs else None
        try:
            arrays[key] = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ServingStatus(
                grpc.StatusCode.INVALID_ARGUMENT, f"Cannot read input {key!r}: {error}"
            ) from None
    return arrays, row_format


def _rest_outputs(outputs: dict, row_format: bool) -> dict:
    """TF Serving's response body: a single output loses its key; rows are per-example objects."""
    if not row_format:
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {key: value.tolist() for key, value in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    batch = {value.shape[0] for value in outputs.values()}
    if len(batch) != 1:
        raise ServingStatus(
            grpc.StatusCode.INVALID_ARGUMENT, "Outputs of the row format must share a batch size"
        )
    return {
        "predictions": [
            {key: value[row].tolist() for key, value in outputs.items()}
            for row in range(batch.pop())
        ]
    }


class ServingTestServer:
    """TEST DOUBLE: TF Serving's REST and gRPC APIs on 127.0.0.1 (ports chosen by the OS), for client tests.

    Attributes:
        rest_url: "http://127.0.0.1:PORT".
        grpc_target: "127.0.0.1:PORT".
        delay_s: seconds each prediction stalls before answering (0 normally; set it to test timeouts,
            and call `release_stalls()` to end the stalls early).
    """

    def __init__(self, config: model_server_config_pb2.ModelServerConfig):
        self.repository = ModelRepository(config)
        self.delay_s = 0.0
        self._released = threading.Event()
        self._http = None
        self._grpc = None

    @classmethod
    def from_config_text(cls, text: str) -> ServingTestServer:
        return cls(text_format.Parse(text, model_server_config_pb2.ModelServerConfig()))

    def stall(self) -> None:
        if self.delay_s:
            self._released.wait(self.delay_s)

    def release_stalls(self) -> None:
        """Answer the stalled predictions now and stall no more (`delay_s` back to 0)."""
        self.delay_s = 0.0
        released, self._released = self._released, threading.Event()
        released.set()

    def start(self) -> ServingTestServer:
        self._http = ThreadingHTTPServer((LOOPBACK, 0), _rest_handler(self))
        self._http.daemon_threads = True
        threading.Thread(
            target=self._http.serve_forever, name="rest-test-double", daemon=True
        ).start()
        self.rest_url = f"http://{LOOPBACK}:{self._http.server_address[1]}"
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionServicer(self), self._grpc
        )
        port = self._grpc.add_insecure_port(f"{LOOPBACK}:0")
        self._grpc.start()
        self.grpc_target = f"{LOOPBACK}:{port}"
        return self

    def stop(self) -> None:
        self.release_stalls()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _rest_handler(server: ServingTestServer):
    repository = server.repository

    class RestHandler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self):
            """(path match, resolved version), or NOT_FOUND."""
            match = _REST_PATH.match(self.path)
            if match is None:
                raise ServingStatus(
                    grpc.StatusCode.NOT_FOUND, f"Malformed request: {self.command} {self.path}"
                )
            version = int(match["version"]) if match["version"] else None
            return match, repository.resolve(match["name"], version, match["label"])

        def _handle(self, respond) -> None:
            try:
                self._send(200, respond(*self._route()))
            except ServingStatus as error:
                self._send(_HTTP_STATUS.get(error.code, 500), {"error": error.message})

        def do_GET(self):
            def respond(match, version):
                name = match["name"]
                if match["action"] == "/metadata":
                    signature_map = repository.signature_def_map(name, version)
                    return {
                        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
                        "metadata": {
                            "signature_def": json_format.MessageToDict(
                                signature_map, preserving_proto_field_name=True
                            )
                        },
                    }
                if match["action"] is not None:
                    raise ServingStatus(
                        grpc.StatusCode.NOT_FOUND, f"Malformed request: GET {self.path}"
                    )
                pinned = match["version"] is not None or match["label"] is not None
                return {
                    "model_version_status": [
                        {
                            "version": str(v),
                            "state": "AVAILABLE",
                            "status": {"error_code": "OK", "error_message": ""},
                        }
                        for v in ([version] if pinned else sorted(repository.models[name]))
                    ]
                }

            self._handle(respond)

        def do_POST(self):
            def respond(match, version):
                if match["action"] != ":predict":
                    raise ServingStatus(
                        grpc.StatusCode.NOT_FOUND, f"Malformed request: POST {self.path}"
                    )
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                except ValueError as error:
                    raise ServingStatus(
                        grpc.StatusCode.INVALID_ARGUMENT, f"JSON parse error: {error}"
                    ) from None
                if not isinstance(body, dict):
                    raise ServingStatus(
                        grpc.StatusCode.INVALID_ARGUMENT, "The request body must be a JSON object"
                    )
                signature_name = body.get("signature_name") or "serving_default"
                function = repository.signature(match["name"], version, signature_name)
                inputs, row_format = _parse_rest_inputs(
                    body, function.structured_input_signature[1]
                )
                server.stall()
                outputs = repository.predict(match["name"], version, signature_name, inputs)
                return _rest_outputs(outputs, row_format)

            self._handle(respond)

    return RestHandler


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """The official PredictionService interface over the test double's repository."""

    def __init__(self, server: ServingTestServer):
        self.server = server
        self.repository = server.repository

    def _resolve(self, spec, context) -> int:
        version = spec.version.value if spec.HasField("version") else None
        return self.repository.resolve(spec.name, version, spec.version_label or None)

    def Predict(self, request, context):
        try:
            version = self._resolve(request.model_spec, context)
            signature_name = request.model_spec.signature_name or "serving_default"
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            self.server.stall()
            outputs = self.repository.predict(
                request.model_spec.name, version, signature_name, inputs
            )
        except ServingStatus as error:
            context.abort(error.code, error.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signature_name
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "Metadata field must be exactly ['signature_def']"
            )
        try:
            version = self._resolve(request.model_spec, context)
        except ServingStatus as error:
            context.abort(error.code, error.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(
            self.repository.signature_def_map(request.model_spec.name, version)
        )
        return response
