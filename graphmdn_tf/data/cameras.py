"""Human3.6M cameras: calibration tables and the projection formulas of VideoPose3D / SemGCN.

Conventions (`shared/reference/h36m_facts.txt`, sections 1-3):

- World coordinates are metres, Z up. A camera's `orientation` is a unit quaternion `[w, x, y, z]`
  that rotates camera axes into world axes; its `translation` is the camera centre in world metres.
- `world_to_camera(X, R, t) = qrot(qinverse(R), X - t)` and `camera_to_world(X, R, t) = qrot(R, X) + t`.
- Camera space: x right, y down, z forward (depth). `project_to_2d` applies VideoPose3D's distortion
  model to normalised intrinsics and returns normalised screen coordinates; `image_coordinates`
  turns those into pixels.
- Normalised screen coordinates keep the aspect ratio: `X / w * 2 - [1, h / w]`, so x lies in [-1, 1]
  and y in [-h/w, h/w].

Everything here is NumPy, broadcasting over any leading axes.
"""

from __future__ import annotations

import numpy as np

# Section 1: intrinsics, identical for every subject (pixels).
_INTRINSICS = (
    {
        "id": "54138969",
        "res_w": 1000,
        "res_h": 1002,
        "azimuth": 70,
        "center": (512.54150390625, 515.4514770507812),
        "focal_length": (1145.0494384765625, 1143.7811279296875),
        "radial_distortion": (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
        "tangential_distortion": (-0.0009756988729350269, -0.00142447161488235),
    },
    {
        "id": "55011271",
        "res_w": 1000,
        "res_h": 1000,
        "azimuth": -70,
        "center": (508.8486328125, 508.0649108886719),
        "focal_length": (1149.6756591796875, 1147.5916748046875),
        "radial_distortion": (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
        "tangential_distortion": (-0.0016190266469493508, -0.0027408944442868233),
    },
    {
        "id": "58860488",
        "res_w": 1000,
        "res_h": 1000,
        "azimuth": 110,
        "center": (519.8158569335938, 501.40264892578125),
        "focal_length": (1149.1407470703125, 1148.7989501953125),
        "radial_distortion": (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
        "tangential_distortion": (0.0014843869721516967, -0.0007599993259645998),
    },
    {
        "id": "60457274",
        "res_w": 1000,
        "res_h": 1002,
        "azimuth": -110,
        "center": (514.9682006835938, 501.88201904296875),
        "focal_length": (1145.5113525390625, 1144.77392578125),
        "radial_distortion": (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
        "tangential_distortion": (-0.0005872055771760643, -0.0018133620033040643),
    },
)

# Section 2: extrinsics per subject and camera: (orientation quaternion [w, x, y, z], centre in mm).
_EXTRINSICS = {
    "S1": (
        (
            (0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088),
            (1841.1070556640625, 4955.28466796875, 1563.4454345703125),
        ),
        (
            (0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205),
            (1761.278564453125, -5078.0068359375, 1606.2650146484375),
        ),
        (
            (0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696),
            (-1846.7777099609375, 5215.04638671875, 1491.972412109375),
        ),
        (
            (0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435),
            (-1794.7896728515625, -3722.698974609375, 1574.8927001953125),
        ),
    ),
    "S5": (
        (
            (0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332),
            (2097.3916015625, 4880.94482421875, 1605.732421875),
        ),
        (
            (0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915),
            (2031.7008056640625, -5167.93310546875, 1612.923095703125),
        ),
        (
            (0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576),
            (-1620.5948486328125, 5171.65869140625, 1496.43701171875),
        ),
        (
            (0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092),
            (-1637.1737060546875, -3867.3173828125, 1547.033203125),
        ),
    ),
    "S6": (
        (
            (0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938),
            (1935.4517822265625, 4950.24560546875, 1618.0838623046875),
        ),
        (
            (0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428),
            (1969.803955078125, -5128.73876953125, 1632.77880859375),
        ),
        (
            (0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334),
            (-1769.596435546875, 5185.361328125, 1476.993408203125),
        ),
        (
            (0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802),
            (-1721.668701171875, -3884.13134765625, 1540.4879150390625),
        ),
    ),
    "S7": (
        (
            (0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778),
            (1974.512939453125, 4926.3544921875, 1597.8326416015625),
        ),
        (
            (0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508),
            (1937.0584716796875, -5119.7900390625, 1631.5665283203125),
        ),
        (
            (0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278),
            (-1741.8111572265625, 5208.24951171875, 1464.8245849609375),
        ),
        (
            (0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523),
            (-1734.7105712890625, -3832.42138671875, 1548.5830078125),
        ),
    ),
    "S8": (
        (
            (0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773),
            (2150.65185546875, 4896.1611328125, 1611.9046630859375),
        ),
        (
            (0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615),
            (2219.965576171875, -5148.453125, 1613.0440673828125),
        ),
        (
            (0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755),
            (-1571.2215576171875, 5137.0185546875, 1498.1761474609375),
        ),
        (
            (0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708),
            (-1476.913330078125, -3896.7412109375, 1547.97216796875),
        ),
    ),
    "S9": (
        (
            (0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243),
            (2044.45849609375, 4935.1171875, 1481.2275390625),
        ),
        (
            (0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801),
            (1990.959716796875, -5123.810546875, 1568.8048095703125),
        ),
        (
            (0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915),
            (-1670.9921875, 5211.98583984375, 1528.387939453125),
        ),
        (
            (0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822),
            (-1696.04345703125, -3827.099853515625, 1591.4127197265625),
        ),
    ),
    "S11": (
        (
            (0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467),
            (2098.440185546875, 4926.5546875, 1500.278564453125),
        ),
        (
            (0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085),
            (2083.182373046875, -4912.1728515625, 1561.07861328125),
        ),
        (
            (0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407),
            (-1609.8153076171875, 5177.3359375, 1537.896728515625),
        ),
        (
            (0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809),
            (-1590.738037109375, -3854.1689453125, 1578.017578125),
        ),
    ),
}

H36M_SUBJECTS = tuple(_EXTRINSICS)
"""The seven Human3.6M subjects with calibrated cameras (S2, S3 and S4 have none)."""

NUM_CAMERAS = 4


def _check_last_dim(array: np.ndarray, size: int, argument: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < 1 or array.shape[-1] != size:
        raise ValueError(
            f"Expected {argument} with a last axis of size {size}. Received: {argument}.shape={array.shape}"
        )
    return array


def h36m_cameras(subject: str) -> list[dict]:
    """The 4 calibrated cameras of a Human3.6M subject, in camera-index order.

    Each camera is a dict with `id`, `res_w`, `res_h`, `azimuth` (degrees, for plots), `center` and
    `focal_length` (pixels, as calibrated), `radial_distortion` (k1, k2, k3), `tangential_distortion`
    (p1, p2), `orientation` (quaternion [w, x, y, z], camera -> world), `translation` (camera centre,
    metres) and `intrinsic`: the (9,) vector [focal_n (2), center_n (2), k (3), p (2)] with
    `center_n = center / res_w * 2 - [1, res_h / res_w]` and `focal_n = focal_length / res_w * 2`,
    which is what `project_to_2d` takes. Arrays are float64 copies, safe to modify.

    Raises:
        ValueError: for a subject without calibration (anything but S1, S5, S6, S7, S8, S9, S11).
    """
    if subject not in _EXTRINSICS:
        raise ValueError(
            f"Unknown Human3.6M subject {subject!r}: cameras are calibrated for {', '.join(H36M_SUBJECTS)}."
        )
    cameras = []
    for intrinsics, (orientation, translation_mm) in zip(_INTRINSICS, _EXTRINSICS[subject]):
        camera = {
            key: (np.array(value, dtype=np.float64) if isinstance(value, tuple) else value)
            for key, value in intrinsics.items()
        }
        width, height = camera["res_w"], camera["res_h"]
        center_n = normalize_screen_coordinates(camera["center"], width, height)
        focal_n = camera["focal_length"] / width * 2.0
        camera["orientation"] = np.array(orientation, dtype=np.float64)
        camera["translation"] = np.array(translation_mm, dtype=np.float64) / 1000.0
        camera["intrinsic"] = np.concatenate(
            [focal_n, center_n, camera["radial_distortion"], camera["tangential_distortion"]]
        )
        cameras.append(camera)
    return cameras


def normalize_screen_coordinates(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """Pixels [..., 2] -> normalised screen coordinates: `X / w * 2 - [1, h / w]`."""
    points = _check_last_dim(points, 2, "points")
    return points / w * 2.0 - np.array([1.0, h / w])


def image_coordinates(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """Normalised screen coordinates [..., 2] -> pixels: `(X + [1, h / w]) * w / 2`."""
    points = _check_last_dim(points, 2, "points")
    return (points + np.array([1.0, h / w])) * w / 2.0


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v [..., 3] by unit quaternions q [..., 4] ([w, x, y, z]; leading axes broadcast).

    `qrot(q, v) = v + 2 * (w * (u x v) + u x (u x v))` with `u = q[..., 1:]`.
    """
    q = _check_last_dim(q, 4, "q")
    v = _check_last_dim(v, 3, "v")
    w, u = q[..., :1], q[..., 1:]
    uv = np.cross(u, v)
    return v + 2.0 * (w * uv + np.cross(u, uv))


def qinverse(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions [..., 4]: the conjugate `[w, -x, -y, -z]`."""
    q = _check_last_dim(q, 4, "q")
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def world_to_camera(
    points: np.ndarray, orientation: np.ndarray, translation: np.ndarray
) -> np.ndarray:
    """World points [..., 3] -> camera space: `qrot(qinverse(R), X - t)` (metres)."""
    points = _check_last_dim(points, 3, "points")
    return qrot(qinverse(orientation), points - np.asarray(translation))


def camera_to_world(
    points: np.ndarray, orientation: np.ndarray, translation: np.ndarray
) -> np.ndarray:
    """Camera-space points [..., 3] -> world: `qrot(R, X) + t` (metres)."""
    points = _check_last_dim(points, 3, "points")
    return qrot(orientation, points) + np.asarray(translation)


def project_to_2d(points: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
    """Camera-space points [..., 3] -> normalised screen coordinates [..., 2] with lens distortion.

    VideoPose3D's model, with `intrinsic = [f (2), c (2), k (3), p (2)]` normalised as in
    `h36m_cameras`: `XX = clip(X[:2] / Z, -1, 1)`, `r2 = |XX|^2`,
    `radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3`, `tan = p1 x + p2 y`,
    `XXX = XX * (radial + tan) + p * r2`, result `f * XXX + c`. Points must lie in front of the camera.
    """
    points = _check_last_dim(points, 3, "points")
    intrinsic = _check_last_dim(intrinsic, 9, "intrinsic")
    focal, center = intrinsic[..., 0:2], intrinsic[..., 2:4]
    radial_k, tangential_p = intrinsic[..., 4:7], intrinsic[..., 7:9]
    plane = np.clip(points[..., :2] / points[..., 2:3], -1.0, 1.0)
    r2 = np.sum(plane**2, axis=-1, keepdims=True)
    radial = 1.0 + radial_k[..., 0:1] * r2 + radial_k[..., 1:2] * r2**2 + radial_k[..., 2:3] * r2**3
    tangential = np.sum(tangential_p * plane, axis=-1, keepdims=True)
    distorted = plane * (radial + tangential) + tangential_p * r2
    return focal * distorted + center


def project_to_pixels(points_world: np.ndarray, camera: dict) -> np.ndarray:
    """World points [..., 3] (metres) -> pixel coordinates [..., 2] in one camera of `h36m_cameras`."""
    points_camera = world_to_camera(points_world, camera["orientation"], camera["translation"])
    normalised = project_to_2d(points_camera, camera["intrinsic"])
    return image_coordinates(normalised, camera["res_w"], camera["res_h"])
