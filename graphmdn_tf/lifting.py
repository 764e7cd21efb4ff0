"""A detector's 2D keypoints -> 3D pose hypotheses, from a trained run or an exported SavedModel.

    >>> result = lift("runs/standard-cmu", "detections.json", image_size=(1920, 1080))
    >>> result.poses["highest"].shape, result.mu.shape      # [records, 16, 3], [records, M, 16, 3]
    >>> write_lift_results(result, "out", "detections")     # out/detections.json, out/detections.npz

Keypoint files are read by `graphmdn_tf.data.keypoint_formats`, mapped onto the 16 joints of
`graphmdn_tf.skeletons.H36M_16` (with reported fills) by `graphmdn_tf.data.joint_mapping`, and normalised
exactly as the training inputs (`normalize_screen_coordinates`: x_px / w * 2 - [1, h / w]). Poses are in
metres, in the camera frame (x right, y down, z away from the camera), relative to the Hip.

`selection` picks one pose per record with a rule of `SELECTIONS` (every rule of
`graphmdn_tf.hypotheses.SELECTIONS` that needs no ground truth): from the mixture alone ('highest',
'mean'), checked against the 2D input ('reprojection', 'reprojection_weighted'), or with priors learned
from the run's training poses ('skeleton'; 'temporal' and 'temporal_causal', which follow each person
through the frames). A sequence is one person's records in frame order: the records of one person index
(a single-person video, or a tracker's ids), sorted by frame id; a folder of per-frame files is read in the
natural order of the file names (`keypoint_formats.natural_key`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from graphmdn_tf import hypotheses, viz
from graphmdn_tf.data.cameras import normalize_screen_coordinates
from graphmdn_tf.data.joint_mapping import DEFAULT_MIN_SCORE, to_h36m16
from graphmdn_tf.data.keypoint_formats import KeypointRecords, read_keypoints, records_from_array
from graphmdn_tf.evaluation.run import training_priors
from graphmdn_tf.export import FORMAT_FILES, ExportedFile
from graphmdn_tf.models.build import load_model
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.skeletons import H36M_16

#: Records per prediction batch (and per step of the progress bar).
BATCH_SIZE = 1024
#: The selections `lift` makes: the rules of `hypotheses.SELECTIONS` that need no ground truth.
SELECTIONS = tuple(
    name
    for name, rule in hypotheses.SELECTIONS.items()
    if not rule.needs_target and not rule.sampled
)
#: The context keys of `hypotheses.CONTEXT_KEYS` learned from the training poses.
PRIOR_KEYS = ("skeleton_prior", "motion_prior")


@dataclass
class LiftResult:
    """The 3D hypotheses of every accepted record (metres, camera frame, Hip-relative).

    Attributes:
        record_ids: [records, 2] (frame or image id, person index) of the lifted records.
        keypoints_px: [records, 16, 2] the model's input in pixels (after mapping and fills).
        inputs: [records, 16, 2] the same, normalised (what the model saw).
        poses: {selection: [records, 16, 3]}: 'highest' and 'mean' for a GraphMDN, 'prediction' for a SemGCN.
        mu: [records, M, 16, 3] every kernel's pose (a SemGCN: M = 1, its pose); pi: [records, M] (or
            [records, M, 16], node level); sigma: as pi, or [records, M, 16] for a calibrated run
            (`graphmdn-tf calibrate`: sigma times its per-joint scale factors); None for a SemGCN.
        filled: per lifted record, {joint: rule} for joints the file lacked (see `to_h36m16`).
        refused: [{"record": [frame, person], "reason": ...}] for records not lifted.
        selection: the rule of `SELECTIONS` whose pose is `poses[selection]` (None: none asked for).
        frame_files: for a folder of per-frame files, the file of each frame id.
    """

    record_ids: np.ndarray
    keypoints_px: np.ndarray
    inputs: np.ndarray
    poses: dict
    mu: np.ndarray
    pi: np.ndarray
    sigma: np.ndarray | None
    filled: list
    refused: list = field(default_factory=list)
    layout: str = "h36m16"
    image_size: tuple = (0, 0)
    source: str = ""
    joint_names: tuple = H36M_16.joint_names
    selection: str | None = None
    frame_files: tuple | None = None


def check_selection(selection: str) -> str:
    """`selection` if `lift` can make it; a ValueError naming the rule and the choices otherwise."""
    if selection in SELECTIONS:
        return selection
    rule = hypotheses.SELECTIONS.get(selection)
    if rule is not None and rule.needs_target:
        raise ValueError(
            f"Selection {selection!r} ({rule.title}) needs the ground-truth pose, which lift does "
            f"not have; choose one of {', '.join(SELECTIONS)}"
        )
    raise ValueError(
        f"Expected selection to be one of {', '.join(SELECTIONS)}. Received: {selection!r}"
    )


def _select(outputs: dict, selection: str, inputs, record_ids, priors) -> np.ndarray:
    """The poses [records, 16, 3] of `selection`, run on each person's records in frame order."""
    rule = hypotheses.SELECTIONS[selection]
    order = np.lexsort((record_ids[:, 0], record_ids[:, 1]))  # by person, then frame
    params = {
        "mu": outputs["mu"][order],
        "sigma": outputs["sigma"][order],
        "pi_logits": np.log(np.maximum(outputs["pi"][order], np.finfo(np.float32).tiny)),
    }
    context = {"inputs_2d": inputs[order], "sequence_ids": record_ids[order, 1], **priors}
    chosen = hypotheses.select(
        params, names=[selection], **{key: context[key] for key in rule.requires}
    )[selection]
    poses = np.empty_like(outputs["mu"][:, 0])
    poses[order] = np.asarray(chosen, np.float32)
    return poses


def _priors(source, selection: str, priors, progress: bool) -> dict:
    """The priors `selection` needs: given, or learned from the run directory's training poses."""
    needed = [key for key in hypotheses.SELECTIONS[selection].requires if key in PRIOR_KEYS]
    if not needed:
        return {}
    if priors is None:
        run = RunDirectory(source)
        if not run.config_path.is_file():
            raise ValueError(
                f"Selection {selection!r} needs {' and '.join(needed)} learned from the training "
                f"poses; lift from the training run directory (with config.json), not {source}"
            )
        config = run.load_config()
        priors = training_priors(config, config.stride, progress)
    missing = [key for key in needed if key not in priors]
    if missing:
        raise ValueError(f"Selection {selection!r} needs priors {missing}")
    return {key: priors[key] for key in needed}


def _predictor(source):
    """`predict(inputs [B, 16, 2]) -> {pi, mu, sigma, highest_pose, mean_pose} or {pose}` (NumPy) for a run
    directory (its model.keras), a .keras model file or an exported SavedModel version folder (its
    `serving_default`)."""
    source = Path(source)
    if source.name in FORMAT_FILES.values() or any(
        (source / name).is_file() for name in FORMAT_FILES.values()
    ):
        return ExportedFile(source)
    if (source / "saved_model.pb").is_file():
        serving = tf.saved_model.load(str(source)).signatures["serving_default"]
        return lambda inputs: {
            key: value.numpy() for key, value in serving(keypoints=tf.constant(inputs)).items()
        }
    if source.suffix == ".keras" and source.is_file():
        model = load_model(source)  # e.g. the trained preset shipped in the package
    elif not source.is_dir():
        raise FileNotFoundError(
            f"Expected a training run directory or an exported SavedModel version folder "
            f"(with saved_model.pb), or a .keras model file. Received: {source}"
        )
    else:
        model = RunDirectory(source).load_model()

    def predict(inputs):
        outputs = model.predict(inputs, batch_size=len(inputs), verbose=0)
        if not hypotheses.is_mixture(outputs):
            return {"pose": np.asarray(outputs)}
        chosen = hypotheses.select(outputs, names=hypotheses.selection_names(with_target=False))
        return {
            "pi": hypotheses.mixture_weights(outputs).numpy(),
            "mu": np.asarray(outputs["mu"]),
            "sigma": np.asarray(outputs["sigma"]),
            **{f"{k}_pose": v.numpy() for k, v in chosen.items()},
        }

    return predict


def _predict_all(predict, inputs: np.ndarray, progress: bool) -> dict:
    batches = range(0, len(inputs), BATCH_SIZE)
    bar = tqdm(batches, desc="lift", unit="batch", disable=not progress or len(batches) < 2)
    parts = [predict(inputs[start : start + BATCH_SIZE]) for start in bar]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _records(keypoints, format, key) -> KeypointRecords:
    if isinstance(keypoints, KeypointRecords):
        return keypoints
    if isinstance(keypoints, (str, Path)):
        return read_keypoints(keypoints, format, key=key)
    return records_from_array(keypoints, format)


def _image_size(image_size, records: KeypointRecords) -> tuple:
    size = image_size if image_size is not None else records.image_size
    if size is None:
        raise ValueError(
            f"{records.source}: the file holds no image size; pass image_size=(width, height) "
            "(--image-size W H), the pixel size of the frames the keypoints were detected in"
        )
    width, height = (float(value) for value in size)
    if not (width > 0 and height > 0):
        raise ValueError(f"Expected a positive image size (width, height). Received: {size}")
    return width, height


def lift(
    source,
    keypoints,
    *,
    image_size=None,
    format: str | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    key: str | None = None,
    progress: bool = True,
    selection: str | None = None,
    priors: dict | None = None,
) -> LiftResult:
    """Lift 2D keypoints to 3D hypotheses.

    Args:
        source: a training run directory, a .keras model file (e.g. `models.pretrained_path()`), or an
            exported version folder (saved_models/NAME/1: a SavedModel, or the model.onnx /
            model.tflite of `graphmdn_tf.export`), or that file.
        keypoints: a keypoint file (see `graphmdn_tf.data.keypoint_formats`), `KeypointRecords`, or an array
            [frames, joints, 2 or 3] in pixels (16 joints: Human3.6M-16; 17: name `format`).
        image_size: (width, height) of the frames in pixels; needed unless the file holds it.
        format: a format of `keypoint_formats.FORMATS`, overriding detection.
        min_score: joints scored below it are missing and filled (`joint_mapping.to_h36m16`).
        key: the array of an .npz holding several.
        progress: a progress bar over the batches of a long file.
        selection: a rule of `SELECTIONS` (see the module docstring); its pose is `poses[selection]`.
        priors: {'skeleton_prior': SkeletonPrior, 'motion_prior': MotionPrior} for the rules that need
            them; None learns them from the training poses of `source`, a run directory.

    Raises:
        ValueError: a bad file (naming file, record and layout), no image size, every record refused,
            or a selection lift cannot make (unknown, needing the ground truth, a SemGCN's, or
            needing priors with an exported model as `source`).
    """
    if selection is not None:
        check_selection(selection)
    records = _records(keypoints, format, key)
    width, height = _image_size(image_size, records)
    mapped = to_h36m16(records, min_score=min_score)
    accepted = mapped.accepted
    refused = [
        {"record": records.record_ids[row].tolist(), "reason": reason}
        for row, reason in mapped.refused.items()
    ]
    if not len(accepted):
        raise ValueError(
            f"{records.source}: every record was refused ({refused[0]['reason']} in record "
            f"{refused[0]['record']}); lower min_score (now {min_score}) or check the layout"
        )
    pixels = mapped.keypoints[accepted]
    inputs = normalize_screen_coordinates(pixels, width, height).astype(np.float32)
    outputs = _predict_all(_predictor(source), inputs, progress)
    if "pose" in outputs:
        poses, mu = {hypotheses.PREDICTION: outputs["pose"]}, outputs["pose"][:, None]
        pi, sigma = np.ones(mu.shape[:2], np.float32), None
    else:
        poses = {
            name.removesuffix("_pose"): value
            for name, value in outputs.items()
            if name.endswith("_pose")
        }
        mu, pi, sigma = outputs["mu"], outputs["pi"], outputs["sigma"]
    if selection is not None and sigma is None:
        raise ValueError(
            f"Selection {selection!r} chooses among a GraphMDN's hypotheses; {source} is a "
            f"deterministic model with one pose ({hypotheses.PREDICTION!r})"
        )
    if selection is not None and selection not in poses:
        context = _priors(source, selection, priors, progress)
        poses[selection] = _select(
            outputs, selection, inputs, records.record_ids[accepted], context
        )
    return LiftResult(
        records.record_ids[accepted],
        pixels.astype(np.float32),
        inputs,
        poses,
        mu,
        pi,
        sigma,
        [mapped.filled[row] for row in accepted],
        refused,
        records.layout,
        (width, height),
        records.source,
        selection=selection,
        frame_files=records.frame_files,
    )


def lift_figure(result: LiftResult, num_frames: int = 4):
    """A contact sheet of the first frames: the 2D input beside the kernels (opacity by pi), Figure 2 style."""
    count = min(num_frames, len(result.inputs))
    titles = [f"frame {frame}, person {person}" for frame, person in result.record_ids[:count]]
    return viz.hypotheses_figure(
        result.inputs[:count], result.mu[:count], result.pi[:count], row_titles=titles
    )


def _summary(result: LiftResult) -> dict:
    records = []
    for row, (frame, person) in enumerate(result.record_ids.tolist()):
        entry = {
            "frame": frame,
            "person": person,
            "filled": result.filled[row],
            "poses": {name: np.round(pose[row], 5).tolist() for name, pose in result.poses.items()},
            "pi": np.round(result.pi[row], 5).tolist(),
            "kernels": np.round(result.mu[row], 5).tolist(),
        }
        if result.sigma is not None:
            entry["sigma"] = np.round(result.sigma[row], 6).tolist()
        records.append(entry)
    return {
        "source": result.source,
        "layout": result.layout,
        "image_size": list(result.image_size),
        "joint_names": list(result.joint_names),
        "units": "metres, camera frame (x right, y down, z forward), relative to Hip",
        "selection": result.selection,
        **({"frame_files": list(result.frame_files)} if result.frame_files else {}),
        "refused": result.refused,
        "records": records,
    }


def write_lift_results(result: LiftResult, out_dir, stem: str, *, plot: bool = False) -> list:
    """Write out_dir/stem.json (every record: poses, kernels, pi, sigma, fills; refused records) and
    out_dir/stem.npz (the arrays), and with `plot` out_dir/stem.png (`lift_figure`). Existing files are
    never overwritten (FileExistsError). Returns the paths written."""
    out_dir = Path(out_dir)
    paths = [
        out_dir / f"{stem}{suffix}" for suffix in (".json", ".npz", ".png")[: 3 if plot else 2]
    ]
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise FileExistsError(
            f"Refusing to overwrite {', '.join(existing)}; choose another output folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(paths[0], "x") as file:
        json.dump(_summary(result), file)
    arrays = {
        "record_ids": result.record_ids,
        "keypoints_px": result.keypoints_px,
        "inputs": result.inputs,
        "mu": result.mu,
        "pi": result.pi,
        "joint_names": np.array(result.joint_names),
        **{f"{name}_pose": pose for name, pose in result.poses.items()},
    }
    if result.selection is not None:
        arrays["selection"] = np.array(result.selection)
        arrays["pose"] = result.poses[result.selection]
    if result.frame_files:
        arrays["frame_files"] = np.array(result.frame_files)
    if result.sigma is not None:
        arrays["sigma"] = result.sigma
    with open(paths[1], "xb") as file:
        np.savez(file, **arrays)
    if plot:
        with open(paths[2], "xb") as file:
            file.write(viz.figure_to_png(lift_figure(result), dpi=90))
    return paths
