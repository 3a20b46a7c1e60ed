"""Task "motion": the whole view moves; only the motion defines the class (the source set).

Each video is a view of a random periodic scene (smooth coloured noise background + 1..``max_objects``
textured shapes). The class sets how the view moves: translate left/right/up/down, rotate cw/ccw (on
screen, y pointing down), zoom in/out. Everything about appearance -- texture scale, colours, shapes,
object count, speed within ``spec.speed``, position, orientation -- is drawn from the same distribution
for every class, and the *middle* frame's state (view centre, angle, scale) is drawn independently of
the class, so that frame carries no class information by construction; other frames differ from it only
by the class's motion. The scene is periodic (``BORDER_WRAP``), so no edge ever enters the view.
"""

from __future__ import annotations

import cv2
import numpy as np

from .scene import noise_background, periodic_noise
from .spec import SyntheticSpec


def _draw_shape(
    canvas: np.ndarray, rng: np.random.Generator, colour: np.ndarray, size: int, texture: np.ndarray
) -> None:
    """One filled random shape, drawn at the 9 periodic copies of its position (the scene is a torus)."""
    kind = rng.integers(4)
    radius = rng.uniform(0.05, 0.12) * size
    cx, cy = rng.uniform(0, size, 2)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.4, 0.9)
    layer = np.zeros(canvas.shape[:2], np.uint8)
    for dy in (-size, 0, size):
        for dx in (-size, 0, size):
            x, y = cx + dx, cy + dy
            if kind == 0:
                cv2.circle(layer, (int(x), int(y)), int(radius), 255, -1, cv2.LINE_AA)
            elif kind == 1:
                axes = (int(radius), int(radius * aspect))
                cv2.ellipse(layer, (int(x), int(y)), axes, np.degrees(angle), 0, 360, 255, -1, cv2.LINE_AA)
            else:
                sides = 3 if kind == 2 else 4
                t = angle + np.arange(sides) * 2 * np.pi / sides
                pts = np.stack([x + radius * np.cos(t), y + radius * np.sin(t)], 1).astype(np.int32)
                cv2.fillPoly(layer, [pts], 255, cv2.LINE_AA)
    alpha = (layer.astype(np.float32) / 255.0)[..., None]
    shift = rng.integers(0, size, 2)
    shade = 0.6 + 0.4 * np.roll(texture, tuple(shift), axis=(0, 1))[..., None]
    canvas[:] = canvas * (1 - alpha) + alpha * colour * shade


def make_scene(rng: np.random.Generator, size: int, max_objects: int) -> np.ndarray:
    """A random periodic scene, (size, size, 3) float32 BGR in [0, 255]."""
    canvas = noise_background(rng, size, period=(0.04, 0.15), contrast=(1.5, 3.0))
    texture = periodic_noise(rng, size, rng.uniform(2.0, 6.0))  # objects' shading, shifted per object
    for _ in range(rng.integers(1, max_objects + 1) * 4):  # the scene is 2x2 views
        _draw_shape(canvas, rng, rng.uniform(0, 255, 3), size, texture)
    return np.clip(canvas, 0, 255).astype(np.float32)


def _motion(cls: str, speed: float, radius: float) -> tuple[np.ndarray, float, float]:
    """(content velocity px/frame, angular velocity rad/frame, log-zoom rate per frame) of a class."""
    velocity = {
        "TranslateLeft": (-speed, 0.0),
        "TranslateRight": (speed, 0.0),
        "TranslateUp": (0.0, -speed),
        "TranslateDown": (0.0, speed),
    }.get(cls, (0.0, 0.0))
    omega = {"RotateCW": speed / radius, "RotateCCW": -speed / radius}.get(cls, 0.0)
    zoom = {"ZoomIn": speed / radius, "ZoomOut": -speed / radius}.get(cls, 0.0)
    return np.asarray(velocity), omega, zoom


def render_motion(spec: SyntheticSpec, cls: str, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 BGR of one motion-task video of class ``cls``."""
    height, width = spec.frame_size
    size = 2 * max(height, width)
    scene = make_scene(rng, size, spec.max_objects)
    speed = rng.uniform(*spec.speed)
    # State at the middle frame: independent of the class.
    centre = rng.uniform(0, size, 2)
    theta_mid = rng.uniform(0, 2 * np.pi)
    log_scale_mid = rng.uniform(np.log(0.8), np.log(1.6))
    velocity, omega, zoom = _motion(cls, speed, min(height, width) / 2)
    mid = (spec.num_frames - 1) / 2
    ss = 2  # supersampling factor against aliasing
    origin = np.array([(width * ss - 1) / 2, (height * ss - 1) / 2])
    frames = np.empty((spec.num_frames, height, width, 3), np.uint8)
    for t in range(spec.num_frames):
        theta = theta_mid + omega * (t - mid)
        scale = np.exp(log_scale_mid + zoom * (t - mid))
        rot_inv = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])  # R(-theta)
        # Content point q appears at p = o + s R(theta) (q - c_t); translation moves c_t.
        c_t = centre - rot_inv @ velocity * (t - mid) / scale
        a = rot_inv / (scale * ss)
        matrix = np.hstack([a, (c_t - a @ origin)[:, None]])
        big = cv2.warpAffine(
            scene,
            matrix,
            (width * ss, height * ss),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_WRAP,
        )
        frame = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
        frame += rng.normal(0, spec.noise, frame.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames
