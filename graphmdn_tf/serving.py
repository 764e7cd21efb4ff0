"""Clients for a model served by TensorFlow Serving: REST (port 8501) and gRPC (port 8500).

Both clients take NumPy arrays (or anything `np.asarray` accepts) and return a dict of NumPy
arrays keyed by the signature's output keys (see `graphmdn_tf.export` for GraphMDN's signatures:
`serving_default`, `from_pixels`, `sample`). Inputs are either a dict keyed by input key, or one
array for a signature with a single input (`serving_default` and `sample` take `keypoints`).

    >>> client = RestClient("http://localhost:8501", model_name="graphmdn")
    >>> client.predict(keypoints)["mean_pose"]                  # [batch, 16, 3]
    >>> GrpcClient("localhost:8500", model_name="graphmdn").predict(keypoints, label="stable")

A request goes to the latest served version, to `version=N`, or to a `label` from the server's
model config. Failures raise `ServingError` with the canonical status `code` ("INVALID_ARGUMENT"
for inputs the model rejects, "NOT_FOUND" for an unknown model, version or label, ...), the HTTP
status for REST, and the server's message; `ServingTimeoutError` when the server does not answer
within `timeout` seconds; `ServingUnavailableError` when it cannot be reached at all.

Notes:
    - REST responses carry no dtypes: floating-point values come back as float32 (every GraphMDN
      output is float32), integers as int64. gRPC responses keep the server's dtypes.
    - When a signature has a single output, TF Serving's REST API leaves its key out of the
      response; the client then names it from the signature metadata (one extra request, cached).
      gRPC needs input keys, so a single unnamed array is keyed the same way.
    - Both clients connect directly and ignore http_proxy/https_proxy environment settings.
    - The gRPC client needs the `serving` extra: `pip install "graphmdn-tf[serving]"`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

import numpy as np
from google.protobuf import json_format

# The signatures of a GraphMDN SavedModel (written by `graphmdn_tf.export`), by name, and the poses per
# example the sample signature returns unless the export names another count.
SERVING_DEFAULT = "serving_default"
FROM_PIXELS = "from_pixels"
SAMPLE = "sample"
DEFAULT_NUM_SAMPLES = 10
SAVED_MODEL = "saved_model"
ONNX = "onnx"
LITERT = "litert"
#: The export formats (`graphmdn_tf.export`); the default is TF Serving's SavedModel.
FORMATS = (SAVED_MODEL, ONNX, LITERT)
#: The one file each single-file format writes into its version folder.
FORMAT_FILES = {ONNX: "model.onnx", LITERT: "model.tflite"}
#: What to install for each single-file format (the `onnx` and `litert` extras).
FORMAT_PACKAGES = {ONNX: "tf2onnx onnx onnxruntime", LITERT: "ai-edge-litert"}
REQUEST_FORMATS = ("instances", "inputs")

# TF Serving's REST API turns canonical status codes into these HTTP statuses.
_HTTP_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ServingError(RuntimeError):
    """A request the server refused or failed.

    Attributes:
        code: canonical status name ("INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE", ...).
        http_status: the HTTP status (REST only), else None.
        endpoint: the URL or gRPC target and method.
        server_message: the server's own error text.
    """

    def __init__(
        self, message: str, *, code: str = "UNKNOWN", http_status: int | None = None, endpoint=None
    ):
        self.code = code
        self.http_status = http_status
        self.endpoint = endpoint
        self.server_message = message
        status = f"HTTP {http_status} {code}" if http_status is not None else code
        super().__init__(f"{status} from {endpoint}: {message}")


class ServingTimeoutError(ServingError):
    """The server did not answer within the client's timeout (DEADLINE_EXCEEDED)."""


class ServingUnavailableError(ServingError):
    """The server could not be reached (connection refused, unknown host, server down)."""


def _check_routing(version, label) -> None:
    if version is not None and label is not None:
        raise ValueError(
            f"Pass a version or a label, not both. Received: version={version!r}, label={label!r}"
        )
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1
    ):
        raise ValueError(
            f"Expected version to be a positive integer. Received: version={version!r}"
        )


def _signature_summary(signature_def_map: Mapping) -> dict:
    """A SignatureDefMap in protobuf JSON form -> {signature: {"inputs"|"outputs": {key: {dtype, shape}}}}.

    `shape` is a tuple with -1 for the batch dimension (None where the rank is unknown).
    """

    def tensors(infos: Mapping) -> dict:
        summary = {}
        for key, info in infos.items():
            shape = info.get("tensor_shape", {})
            dims = (
                None
                if shape.get("unknown_rank")
                else tuple(int(d.get("size", 0)) for d in shape.get("dim", []))
            )
            summary[key] = {"dtype": info.get("dtype", "DT_INVALID"), "shape": dims}
        return summary

    return {
        name: {
            "inputs": tensors(definition.get("inputs", {})),
            "outputs": tensors(definition.get("outputs", {})),
            "method_name": definition.get("method_name", ""),
        }
        for name, definition in signature_def_map.get("signature_def", {}).items()
        if not name.startswith("__")  # internal entries such as __saved_model_init_op
    }


def _batched_inputs(inputs) -> dict | np.ndarray:
    if isinstance(inputs, Mapping):
        return {str(key): np.asarray(value) for key, value in inputs.items()}
    return np.asarray(inputs)


class _ServingClient:
    """What the REST and gRPC clients share: model name, timeout, and cached signature metadata."""

    def __init__(self, model_name: str, timeout: float):
        if not model_name or not isinstance(model_name, str):
            raise ValueError(f"Expected a model name. Received: model_name={model_name!r}")
        if not float(timeout) > 0:
            raise ValueError(f"Expected timeout > 0 seconds. Received: timeout={timeout!r}")
        self.model_name = model_name
        self.timeout = float(timeout)
        self._signatures: dict = {}

    def metadata(self, version=None, label=None) -> dict:
        raise NotImplementedError

    def signature(self, signature_name: str = SERVING_DEFAULT, version=None, label=None) -> dict:
        """The inputs and outputs (key -> dtype, shape) of one signature of the served model; cached."""
        cache_key = (signature_name, version, label)
        if cache_key not in self._signatures:
            signatures = self.metadata(version=version, label=label)["signatures"]
            if signature_name not in signatures:
                raise ServingError(
                    f"Model {self.model_name!r} has no signature {signature_name!r}; it has {sorted(signatures)}",
                    code="NOT_FOUND",
                    endpoint=self.model_name,
                )
            self._signatures[cache_key] = signatures[signature_name]
        return self._signatures[cache_key]

    def _sole_key(self, direction: str, signature_name: str, version, label) -> str:
        keys = sorted(self.signature(signature_name, version, label)[direction])
        if len(keys) != 1:
            raise ValueError(
                f"Signature {signature_name!r} has {direction} {keys}: pass the inputs as a dict keyed by "
                "input key"
            )
        return keys[0]


class RestClient(_ServingClient):
    """TF Serving's REST API: `/v1/models/NAME[/versions/N|/labels/L][:predict|/metadata]`.

    Args:
        base_url: the server, e.g. "http://localhost:8501" (http:// is assumed when no scheme is given).
        model_name: the served model's name (MODEL_NAME, or `name` in models.config).
        timeout: seconds to wait for each response.
    """

    def __init__(
        self,
        base_url: str = "http://localhost:8501",
        model_name: str = "graphmdn",
        timeout: float = 30.0,
    ):
        super().__init__(model_name, timeout)
        self.base_url = (base_url if "://" in base_url else f"http://{base_url}").rstrip("/")
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _model_url(self, version=None, label=None) -> str:
        _check_routing(version, label)
        url = f"{self.base_url}/v1/models/{self.model_name}"
        if version is not None:
            return f"{url}/versions/{int(version)}"
        return url if label is None else f"{url}/labels/{label}"

    def _request(self, url: str, body=None) -> dict:
        data = (
            None if body is None else json.dumps(body).encode("utf-8")
        )  # NaN/Infinity tokens, as TF Serving reads
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_error(error, url) from None
        except TimeoutError:
            raise ServingTimeoutError(
                f"no response within {self.timeout} s", code="DEADLINE_EXCEEDED", endpoint=url
            ) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise ServingTimeoutError(
                    f"no response within {self.timeout} s", code="DEADLINE_EXCEEDED", endpoint=url
                ) from None
            raise ServingUnavailableError(
                f"cannot reach the server: {error.reason}", code="UNAVAILABLE", endpoint=url
            ) from None
        except OSError as error:
            raise ServingUnavailableError(
                f"connection failed: {error}", code="UNAVAILABLE", endpoint=url
            ) from None
        try:
            return json.loads(text)
        except ValueError:
            raise ServingError(
                f"response is not JSON: {text[:200]!r}", code="INTERNAL", endpoint=url
            ) from None

    @staticmethod
    def _http_error(error: urllib.error.HTTPError, url: str) -> ServingError:
        text = error.read().decode("utf-8", errors="replace")
        try:
            message = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            message = text.strip() or error.reason
        code = _HTTP_STATUS_CODES.get(error.code, "UNKNOWN")
        error_class = ServingTimeoutError if code == "DEADLINE_EXCEEDED" else ServingError
        return error_class(str(message), code=code, http_status=error.code, endpoint=url)

    def status(self, version=None, label=None) -> dict[int, str]:
        """Served versions and their state, e.g. {1: "AVAILABLE", 2: "AVAILABLE"}."""
        url = self._model_url(version, label)
        response = self._request(url)
        return {
            int(entry["version"]): entry["state"]
            for entry in response.get("model_version_status", [])
        }

    def metadata(self, version=None, label=None) -> dict:
        """{"name", "version", "signatures": {name: {"inputs"|"outputs": {key: {"dtype", "shape"}}}}}."""
        response = self._request(f"{self._model_url(version, label)}/metadata")
        signature_def_map = response.get("metadata", {}).get("signature_def", {})
        spec = response.get("model_spec", {})
        return {
            "name": spec.get("name", self.model_name),
            "version": int(spec["version"]) if spec.get("version") else None,
            "signatures": _signature_summary(signature_def_map),
        }

    def predict(
        self,
        inputs,
        signature_name: str = SERVING_DEFAULT,
        format: str = "instances",
        version: int | None = None,
        label: str | None = None,
    ) -> dict[str, np.ndarray]:
        """POST `:predict` in the row ("instances") or columnar ("inputs") format; output key -> array."""
        if format not in REQUEST_FORMATS:
            raise ValueError(
                f"Expected format to be one of {REQUEST_FORMATS}. Received: format={format!r}"
            )
        url = f"{self._model_url(version, label)}:predict"
        arrays = _batched_inputs(inputs)
        if format == "instances" and isinstance(arrays, dict):
            batch_sizes = {
                key: value.shape[0] if value.ndim else None for key, value in arrays.items()
            }
            if len(set(batch_sizes.values())) != 1 or None in batch_sizes.values():
                raise ValueError(
                    "The row format needs every input to share its first (batch) dimension; use format='inputs' "
                    f"otherwise. Received batch sizes: {batch_sizes}"
                )
            rows = next(iter(batch_sizes.values()))
            payload = [
                {key: value[row].tolist() for key, value in arrays.items()} for row in range(rows)
            ]
        elif isinstance(arrays, dict):
            payload = {key: value.tolist() for key, value in arrays.items()}
        else:
            payload = arrays.tolist()
        response = self._request(url, {"signature_name": signature_name, format: payload})
        result_key = "predictions" if format == "instances" else "outputs"
        if result_key not in response:
            raise ServingError(
                f"expected {result_key!r} in the response. Received keys: {sorted(response)}",
                code="INTERNAL",
                endpoint=url,
            )
        result = response[result_key]
        if format == "instances" and result and all(isinstance(row, dict) for row in result):
            return {key: _json_array([row[key] for row in result]) for key in result[0]}
        if format == "inputs" and isinstance(result, dict):
            return {key: _json_array(value) for key, value in result.items()}
        return {self._sole_key("outputs", signature_name, version, label): _json_array(result)}


def _json_array(value) -> np.ndarray:
    array = np.asarray(value)
    return array.astype(np.float32) if array.dtype.kind == "f" else array


def _grpc_modules():
    try:
        import grpc
        from tensorflow_serving.apis import (
            get_model_metadata_pb2,
            predict_pb2,
            prediction_service_pb2_grpc,
        )
    except ImportError as error:
        raise ImportError(
            f"The gRPC client needs grpcio and tensorflow-serving-api ({error}); "
            'install them with: pip install "graphmdn-tf[serving]"'
        ) from error
    return grpc, get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc


class GrpcClient(_ServingClient):
    """TF Serving's gRPC PredictionService (`Predict`, `GetModelMetadata`), with the official stubs.

    Args:
        target: "host:port" of the gRPC API (default port 8500); a "grpc://" prefix is accepted.
        model_name: the served model's name.
        timeout: the deadline of each call, in seconds.

    Use as a context manager (or call `close()`) to release the channel.
    """

    def __init__(
        self, target: str = "localhost:8500", model_name: str = "graphmdn", timeout: float = 30.0
    ):
        super().__init__(model_name, timeout)
        grpc, self._metadata_pb2, self._predict_pb2, service = _grpc_modules()
        self._grpc = grpc
        self.target = target.split("://", 1)[-1].rstrip("/")
        self._channel = grpc.insecure_channel(self.target, options=[("grpc.enable_http_proxy", 0)])
        self._stub = service.PredictionServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _model_spec(self, spec, version, label, signature_name: str | None = None) -> None:
        _check_routing(version, label)
        spec.name = self.model_name
        if version is not None:
            spec.version.value = int(version)
        elif label is not None:
            spec.version_label = label
        if signature_name is not None:
            spec.signature_name = signature_name

    def _call(self, method: str, request):
        endpoint = f"{self.target} {method}"
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout)
        except self._grpc.RpcError as error:
            code = error.code().name if error.code() is not None else "UNKNOWN"
            message = error.details() or str(error)
            error_class = {
                "DEADLINE_EXCEEDED": ServingTimeoutError,
                "UNAVAILABLE": ServingUnavailableError,
            }.get(code, ServingError)
            raise error_class(message, code=code, endpoint=endpoint) from None

    def metadata(self, version=None, label=None) -> dict:
        """{"name", "version", "signatures": {name: {"inputs"|"outputs": {key: {"dtype", "shape"}}}}}."""
        request = self._metadata_pb2.GetModelMetadataRequest()
        self._model_spec(request.model_spec, version, label)
        request.metadata_field.append("signature_def")
        response = self._call("GetModelMetadata", request)
        signature_def_map = self._metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_def_map)
        as_json = json_format.MessageToDict(signature_def_map, preserving_proto_field_name=True)
        return {
            "name": response.model_spec.name,
            "version": response.model_spec.version.value or None,
            "signatures": _signature_summary(as_json),
        }

    def predict(
        self,
        inputs,
        signature_name: str = SERVING_DEFAULT,
        version: int | None = None,
        label: str | None = None,
    ) -> dict[str, np.ndarray]:
        """`PredictionService.Predict`; output key -> array (dtypes as the server sent them)."""
        request = self._predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, version, label, signature_name)
        arrays = _batched_inputs(inputs)
        if not isinstance(arrays, dict):
            arrays = {self._sole_key("inputs", signature_name, version, label): arrays}
        import tensorflow as tf  # the tensor protos; the REST client and the module need no TensorFlow

        for key, value in arrays.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        response = self._call("Predict", request)
        return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
