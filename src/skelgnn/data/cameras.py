"""Virtual cameras: a seeded sampler of phone / webcam / action-camera views of a world-frame
sequence, and the pinhole projection that turns world 3D into their 2D.

Shape letters: ``F`` frames, ``J`` joints; ``...`` any leading dimensions.

A virtual camera is an ordinary :class:`skelgnn.geometry.Camera` (no distortion) placed by
:func:`look_at`: camera centre ``C``, forward ``f = (T - C) / |T - C|`` towards a target ``T``,
right ``r = f x z_up / |f x z_up|``, down ``d = f x r``, so the camera-to-world rotation is
``R = [r d f]`` (columns; camera ``X`` right, ``Y`` down, ``Z`` forward, as in geometry.py),
then rolled about ``f`` and, to put the person off-centre, turned by the smallest rotation that
moves the target from the image centre to a chosen image point.

:func:`project_pixels` projects camera-frame points: the exact Human3.6M model
(:meth:`Camera.project`) when the camera has distortion, else the plain pinhole
``u = fx X/Z + cx``, ``v = fy Y/Z + cy`` without :meth:`Camera.project`'s ``|X/Z| <= 1`` clamp
(a 120 degree action camera sees up to ``|X/Z| = 1.73``).

:class:`CameraSampler` draws the training distribution (training for footage): device kind (phone in portrait
or landscape, webcam, action camera) with its image sizes and horizontal field of view, azimuth
``U(0, 360)``, elevation of the line of sight ``U(-10, 60)`` degrees, distance ``U(2, 8)`` m,
camera height kept in ``[0.3, 2.5]`` m (elevation and distance redrawn until it is), roll
``N(0, 3)`` degrees clipped to +-8, principal point offset ``U(-3%, 3%)`` of each side, and the
person's centre placed anywhere within ``edge`` of the half image from the centre (near the
edge at times). Every camera is redrawn (up to 50 times, then moved back) until all joints of
all frames lie at least ``min_depth`` in front of it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from skelgnn.geometry import Camera, matrix_to_quaternion

__all__ = ["DEVICE_KINDS", "CameraSampler", "look_at", "matrix_to_quaternion", "project_pixels",
           "rotation_between", "virtual_camera", "depth_ok", "camera_summary"]

DEVICE_KINDS: dict[str, dict] = {
    # image sizes (w, h) and the horizontal field of view of the long side, degrees
    "phone_landscape": {"sizes": ((1920, 1080), (1280, 720), (3840, 2160)), "hfov": (62.0, 78.0)},
    "phone_portrait": {"sizes": ((1080, 1920), (720, 1280), (2160, 3840)), "hfov": (62.0, 78.0)},
    "webcam": {"sizes": ((640, 480), (1280, 720), (1920, 1080)), "hfov": (55.0, 90.0)},
    "action": {"sizes": ((1920, 1080), (2704, 1520), (1920, 1440)), "hfov": (90.0, 120.0)},
    "tele": {"sizes": ((1920, 1080), (3840, 2160)), "hfov": (18.0, 28.0)},
}
"""Device kinds of :class:`CameraSampler`: phone main cameras (26-28 mm equivalent, ~65-75
degrees across the long side), webcams (55-90 degrees), action cameras in their rectified
("linear") modes (90-120 degrees) and phone telephoto cameras (18-28 degrees, 3-5x; not drawn
by the default training sampler, only by the cross-camera test)."""


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation ``(3, 3)`` taking unit vector ``a`` to unit vector ``b`` (Rodrigues:
    axis ``a x b``, angle ``acos(a . b)``); ``a`` and ``b`` must not be opposite."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-9:
        raise ValueError("rotation_between: opposite vectors have no unique smallest rotation")
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def look_at(centre: np.ndarray, target: np.ndarray, roll_deg: float = 0.0,
            image_offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Camera-to-world rotation ``R`` ``(3, 3)`` of a camera at ``centre`` looking at ``target``
    (world Z up; see the module docstring), rolled by ``roll_deg`` about its optical axis, then
    turned so that ``target`` is seen along the camera-frame ray ``(ox, oy, 1)`` instead of the
    optical axis (``image_offset = (ox, oy)``, i.e. at pixel ``(cx + fx ox, cy + fy oy)``)."""
    f = np.asarray(target, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    f /= np.linalg.norm(f)
    right = np.cross(f, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: the camera looks straight up or down; no image 'right'")
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    a = math.radians(roll_deg)
    r2 = math.cos(a) * right + math.sin(a) * down
    d2 = -math.sin(a) * right + math.cos(a) * down
    rot = np.stack([r2, d2, f], axis=1)  # columns: camera X, Y, Z in world
    ray = np.array([image_offset[0], image_offset[1], 1.0])
    # world_to_camera' = Q^T R^T (X - C) with Q^T e_z = ray / |ray|: R' = R Q
    q_t = rotation_between(np.array([0.0, 0.0, 1.0]), ray)
    return rot @ q_t.T


def virtual_camera(cid: str, size: tuple[int, int], focal: float, principal: tuple[float, float],
                   centre: np.ndarray, rotation: np.ndarray) -> Camera:
    """A distortion-free :class:`Camera` from its image size, focal length (pixels, ``fx = fy``),
    principal point (pixels), centre (world metres) and camera-to-world rotation."""
    qw, qx, qy, qz = (float(v) for v in matrix_to_quaternion(rotation))
    tx, ty, tz = (float(v) for v in centre)
    return Camera(id=cid, res_w=int(size[0]), res_h=int(size[1]), fx=float(focal), fy=float(focal),
                  cx=float(principal[0]), cy=float(principal[1]), k=(0.0, 0.0, 0.0), p=(0.0, 0.0),
                  orientation=(qw, qx, qy, qz), translation=(tx, ty, tz))


def project_pixels(camera: Camera, x_cam: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(..., 3)`` -> pixels ``(..., 2)`` float64: :meth:`Camera.project`
    when the camera has distortion (the benchmark's own model), else the unclamped pinhole."""
    x_cam = np.asarray(x_cam, dtype=np.float64)
    if any(camera.k) or any(camera.p):
        return camera.project(x_cam)
    xy = x_cam[..., :2] / x_cam[..., 2:3]
    return xy * np.array([camera.fx, camera.fy]) + np.array([camera.cx, camera.cy])


def depth_ok(camera: Camera, world: np.ndarray, min_depth: float) -> bool:
    """Whether every point of ``world`` ``(..., 3)`` lies at least ``min_depth`` metres in front."""
    return bool(camera.world_to_camera(world)[..., 2].min() >= min_depth)


@dataclass(frozen=True)
class CameraSampler:
    """The distribution of training cameras (module docstring). Angles in degrees, lengths in
    metres; ``edge`` and ``principal_offset`` are fractions of the half image / the image side.

    Attributes:
        kinds: device kinds drawn (uniformly) from :data:`DEVICE_KINDS`.
        height: camera height range (world Z; the CMU floor is ~0).
        distance: range of the distance from the camera to the person's centre.
        elevation: range of the line of sight's angle below the horizontal.
        roll_std, roll_max: roll ~ N(0, roll_std) clipped to +-roll_max.
        principal_offset: principal point ~ image centre + U(-p, p) x side.
        edge: the person's centre is drawn within +-edge of the half image from the centre
            (horizontally at least ``edge_min`` from it, on a random side).
        edge_y: the vertical limit of the person's centre (None: ``edge``).
        target_jitter: the looked-at point is the sequence's mean pelvis + U(-j, j) in height.
        min_depth: every joint at least this far in front of the camera.
    """

    kinds: tuple[str, ...] = ("phone_landscape", "phone_portrait", "webcam", "action")
    height: tuple[float, float] = (0.3, 2.5)
    distance: tuple[float, float] = (2.0, 8.0)
    elevation: tuple[float, float] = (-10.0, 60.0)
    roll_std: float = 3.0
    roll_max: float = 8.0
    principal_offset: float = 0.03
    edge: float = 0.6
    edge_min: float = 0.0
    edge_y: float | None = None
    target_jitter: float = 0.3
    min_depth: float = 0.5

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in DEVICE_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"CameraSampler: unknown device kinds {unknown}; known: {sorted(DEVICE_KINDS)}")
        for name in ("height", "distance", "elevation"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"CameraSampler.{name}: empty range {(lo, hi)}")

    def _placement(self, rng: np.random.Generator, target_z: float) -> tuple[float, float]:
        """(elevation degrees, distance) with the camera height inside ``self.height``."""
        for _ in range(100):
            el = rng.uniform(*self.elevation)
            d = rng.uniform(*self.distance)
            h = target_z + d * math.sin(math.radians(el))
            if self.height[0] <= h <= self.height[1]:
                return el, d
        # no luck (a target far outside the height range): a level view at the nearest height
        return math.degrees(math.asin(max(-1.0, min(1.0, (np.clip(target_z, *self.height) - target_z)
                                                    / self.distance[1])))), self.distance[1]

    def sample(self, world: np.ndarray, rng: np.random.Generator, cid: str = "virtual",
               kind: str | None = None) -> tuple[Camera, str]:
        """One camera for a sequence ``world`` ``(F, J, 3)`` (root joint 0), and its device kind.

        Draw order (per attempt): kind, image size, field of view, principal offset (2), target
        height jitter, elevation / distance (rejection), azimuth, roll, image offset (2)."""
        world = np.asarray(world, dtype=np.float64)
        centre_xy = world[:, 0, :2].mean(axis=0)
        base_z = float(world[:, 0, 2].mean())
        cam = None
        for attempt in range(50):
            kind_k = kind or self.kinds[int(rng.integers(len(self.kinds)))]
            spec = DEVICE_KINDS[kind_k]
            w, h = spec["sizes"][int(rng.integers(len(spec["sizes"])))]
            hfov = rng.uniform(*spec["hfov"])
            focal = (max(w, h) / 2.0) / math.tan(math.radians(hfov) / 2.0)
            pp = (w / 2.0 + rng.uniform(-1, 1) * self.principal_offset * w,
                  h / 2.0 + rng.uniform(-1, 1) * self.principal_offset * h)
            tz = base_z + rng.uniform(-1, 1) * self.target_jitter
            el, dist = self._placement(rng, tz)
            dist *= 1.0 + 0.1 * max(0, attempt - 40)  # last attempts: step back
            az = rng.uniform(0.0, 2.0 * math.pi)
            roll = float(np.clip(rng.normal(0.0, self.roll_std), -self.roll_max, self.roll_max))
            ox = rng.choice((-1.0, 1.0)) * rng.uniform(self.edge_min, self.edge)
            ey = self.edge if self.edge_y is None else self.edge_y
            oy = rng.uniform(-ey, ey)
            target = np.array([centre_xy[0], centre_xy[1], tz])
            e = math.radians(el)
            centre = target + dist * np.array([math.cos(e) * math.cos(az), math.cos(e) * math.sin(az),
                                               math.sin(e)])
            offset = (ox * (w / 2.0) / focal, oy * (h / 2.0) / focal)
            rot = look_at(centre, target, roll, offset)
            cam = virtual_camera(f"{cid}-{kind_k}", (w, h), focal, pp, centre, rot)
            if depth_ok(cam, world, self.min_depth):
                return cam, kind_k
        assert cam is not None
        return cam, kind_k  # pathological sequence (person walks through every camera)

    def sample_many(self, world: np.ndarray, n: int, rng: np.random.Generator,
                    cid: str = "virtual") -> list[tuple[Camera, str]]:
        """``n`` cameras of one sequence, ids ``<cid><i>-<kind>``."""
        return [self.sample(world, rng, f"{cid}{i}") for i in range(n)]


def camera_summary(cameras: Sequence[Camera]) -> dict[str, float]:
    """Mean horizontal field of view (degrees) and height (m) of a set of cameras (for logs)."""
    fov = [math.degrees(2 * math.atan(c.res_w / 2.0 / c.fx)) for c in cameras]
    return {"cameras": len(cameras), "hfov_deg": float(np.mean(fov)),
            "height_m": float(np.mean([c.translation[2] for c in cameras]))}
