"""Tasks "objects" and "mixed": one object moves among static ones; what moves, how, and (mixed) its colour.

A video shows a static textured background, 1-2 static *distractor* objects (``spec.num_distractors``)
and one *actor* object that translates at a constant speed. Distractors are of random kinds (Ball, Bar, Box).

- Task "objects" (UCF-101 in miniature): the class is (what, how), what ∈ {Ball, Bar, Box} the actor's
  kind and how ∈ {Left, Right, Up, Down} its direction, 12 classes (``BallMoveLeft`` … ``BoxMoveDown``,
  what-major). Every colour is random.
- Task "mixed" (both streams matter): 10 classes told apart by motion only (``BallMoveLeft`` …
  ``BarMoveDown``: a ball or bar of a washed-out colour, four directions; ``BoxMoveUp``,
  ``BoxMoveDown``: a washed-out box) and 2 told apart by appearance only (``WarmBoxMoveLeft``,
  ``CoolBoxMoveLeft``): the box is warm or cool at the same luminance (``palette.py``), which grayscale
  flow cannot see; the background and distractors are washed out too. With the same random stream, the
  two classes of the pair render the same grayscale video, and the directions of a kind the same middle
  frame. The actor is drawn above every distractor (never covered), so flow always sees its whole
  silhouette; a single frame may then tell the actor's kind by draw order, but still not its direction
  nor (for a box) anything flow could use.

Design intent: **RGB alone is informative but incomplete.** A single frame shows which kinds are present
(the actor's kind is among them) but not which one moves, nor where to: the actor's position at the
middle frame is drawn independently of the direction, from a range that is the same on both axes, so the
middle frame, or a frame at a random time, carries no direction information (the first and last frames
hint at it by position: an actor that starts near the left edge tends to move right). Nor does a frame
tell the actor from a distractor: every object's colour is redrawn until its mean luminance as drawn
differs from the background's mean by at least ``spec.min_contrast`` (otherwise flow could not see a
moving one), and in task "objects" the actor is drawn at a random depth among the distractors, so it is not
always on top.
A TV-L1 flow teacher sees the motion *and* the moving silhouette, so what and how.

Geometry (sizes × the frame's short side, drawn per object): Ball = disc of radius 0.08-0.11; Bar =
rectangle of half-length 1.5 R and half-width 0.3 R, R = 0.22-0.26; Box = square of circumradius
0.25-0.30. Bars and boxes have a random orientation. Every object is shaded by its own periodic noise
texture, which moves with it. Shapes are antialiased (drawn ×8, area-averaged down); each frame gets
Gaussian noise (std ``spec.noise``).

The actor stays within the frame for the whole video, off the frame's border pixels (in task "objects" a
distractor drawn above it may hide part of it). Its speed is drawn from ``spec.speed`` and capped so that
its travel fits along either axis: a long shape moves slower (at 48×48 px and 16 frames, with the default
speed 1-2 px/frame, a bar moves 0.5-1.25 px/frame, median 0.8; a box 1-1.9; a ball 1-2). Distractors are fully
within the frame too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .palette import any_colour, desaturate, family_colour, neutral_colour
from .scene import disc_mask, luminance, noise_background, periodic_noise, polygon_mask, shifted
from .spec import DIRECTIONS, FAMILIES, KINDS, TASK_CLASSES, SyntheticSpec

KIND_SIZE = {"Ball": (0.08, 0.11), "Bar": (0.22, 0.26), "Box": (0.25, 0.30)}  # × the short side
BAR_HALF_LENGTH, BAR_HALF_WIDTH = 1.5, 0.3  # × the bar's size R
UNIT_VELOCITY = {"Left": (-1.0, 0.0), "Right": (1.0, 0.0), "Up": (0.0, -1.0), "Down": (0.0, 1.0)}
# px between a shape's outline and the frame's outer edge: one pixel, so border pixels stay uncovered, plus
# a quarter for the rasteriser, which covers a supersampled pixel beyond the outline
MARGIN = 1.25
SHADE = (0.6, 0.4)  # an object's colour × (0.6 + 0.4 × its texture in [0, 1])
_COLOUR_DRAWS = 1000  # then the draw farthest from the background


def split_class(cls: str) -> tuple[str, str, str]:
    """``"BarMoveUp"`` → ``("", "Bar", "Up")``, ``"WarmBoxMoveLeft"`` → ``("Warm", "Box", "Left")``.

    The first part is the actor's colour family ("" when the class does not set one).
    """
    what, _, how = cls.partition("Move")
    family = next((f for f in FAMILIES if what.startswith(f)), "")
    kind = what[len(family) :]
    if kind not in KINDS or how not in DIRECTIONS:
        raise ValueError(f"{cls!r} is not a class of the objects or mixed task")
    return family, kind, how


@dataclass(frozen=True, eq=False)
class Shape:
    """One object: ``size`` px is the ball's radius, the bar's R, the box's circumradius."""

    kind: str
    size: float
    angle: float  # radians
    colour: np.ndarray  # BGR, 0-255
    texture: np.ndarray  # (S, S) periodic, in [0, 1]; anchored at the object's centre

    def outline(self, centre) -> np.ndarray:
        """Polygon corners (n, 2) (x, y) of a bar or box centred at ``centre``."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        if self.kind == "Bar":
            along, across = np.array([c, s]), np.array([-s, c])
            half_l, half_w = BAR_HALF_LENGTH * self.size, BAR_HALF_WIDTH * self.size
            signs = ((1, 1), (1, -1), (-1, -1), (-1, 1))
            return np.array([centre + a * half_l * along + b * half_w * across for a, b in signs])
        if self.kind == "Box":
            t = self.angle + np.arange(4) * np.pi / 2
            return np.asarray(centre) + self.size * np.stack([np.cos(t), np.sin(t)], 1)
        raise ValueError(f"a {self.kind} has no polygon outline")

    def extent(self) -> np.ndarray:
        """Half-extents (x, y) px of the shape's bounding box."""
        if self.kind == "Ball":
            return np.array([self.size, self.size])
        return np.abs(self.outline(np.zeros(2))).max(0)

    def mask(self, centre, height: int, width: int) -> np.ndarray:
        """Antialiased coverage (height, width) float32 of the shape at ``centre``."""
        if self.kind == "Ball":
            return disc_mask(centre, self.size, height, width)
        return polygon_mask(self.outline(np.asarray(centre, np.float64)), height, width)

    def mean_shade(self) -> float:
        """The shading factor averaged over the shape (the same texture patch shows in every frame)."""
        tile = self.texture.shape[0]
        centre = np.full(2, (tile - 1) / 2)
        alpha = self.mask(centre, tile, tile)
        shade = SHADE[0] + SHADE[1] * shifted(self.texture, centre, tile, tile)
        return float((alpha * shade).sum() / max(float(alpha.sum()), 1e-9))

    def mean_luminance(self) -> float:
        """Luminance of the shape's colour as drawn, averaged over the shape."""
        return float(luminance(self.colour)) * self.mean_shade()

    def paint(self, canvas: np.ndarray, centre) -> np.ndarray:
        """``canvas`` (H, W, 3) with the shape drawn over it at ``centre`` (a new array)."""
        height, width = canvas.shape[:2]
        alpha = self.mask(centre, height, width)[..., None]
        shade = SHADE[0] + SHADE[1] * shifted(self.texture, centre, height, width)[..., None]
        return canvas * (1 - alpha) + alpha * (self.colour * shade)


@dataclass(frozen=True, eq=False)
class ObjectsScene:
    """Everything random about one video except the pixel noise (see ``plan_scene``)."""

    background: np.ndarray  # (H, W, 3) float32 BGR in [0, 255]
    distractors: tuple[tuple[Shape, np.ndarray], ...]  # (shape, centre (x, y)), static, bottom to top
    actor: Shape
    actor_depth: int  # the actor is drawn over distractors[:actor_depth] and under the rest
    centre_mid: np.ndarray  # the actor's centre (x, y) at the middle frame
    velocity: np.ndarray  # px/frame (x, y)
    num_frames: int

    def actor_centre(self, t: float) -> np.ndarray:
        return self.centre_mid + self.velocity * (t - (self.num_frames - 1) / 2)

    def actor_mask(self, t: float) -> np.ndarray:
        height, width = self.background.shape[:2]
        return self.actor.mask(self.actor_centre(t), height, width)

    def layers(self, t: float) -> list[tuple[Shape, np.ndarray, bool]]:
        """(shape, centre, is the actor) of every object at time ``t``, bottom to top."""
        layers = [(shape, centre, False) for shape, centre in self.distractors]
        layers.insert(self.actor_depth, (self.actor, self.actor_centre(t), True))
        return layers


def _new_shape(rng: np.random.Generator, kind: str, side: int, tile: int) -> Shape:
    """A shape without its colour (black): ``_coloured`` gives it one."""
    size = rng.uniform(*KIND_SIZE[kind]) * side
    angle = rng.uniform(0, np.pi / 2 if kind == "Box" else np.pi)
    texture = periodic_noise(rng, tile, rng.uniform(2.0, 6.0))
    return Shape(kind, size, angle, np.zeros(3), texture)


def _in_view(extent: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) centre (x, y) that keeps a shape of half-extents ``extent`` in view."""
    low = extent + MARGIN - 0.5
    return low, np.array([width, height]) - low - 1


def _coloured(shape: Shape, draw_colour, target: float, min_contrast: float) -> Shape:
    """``shape`` with the first colour from ``draw_colour()`` whose luminance as drawn is ``min_contrast``
    away from ``target`` (after ``_COLOUR_DRAWS`` draws, practically never: the farthest one)."""
    shade = shape.mean_shade()
    best, best_contrast = None, -1.0
    for _ in range(_COLOUR_DRAWS):
        colour = draw_colour()
        contrast = abs(float(luminance(colour)) * shade - target)
        if contrast > best_contrast:
            best, best_contrast = colour, contrast
        if contrast >= min_contrast:
            break
    return Shape(shape.kind, shape.size, shape.angle, best, shape.texture)


def plan_scene(spec: SyntheticSpec, cls: str, rng: np.random.Generator) -> ObjectsScene:
    """Draw one video's background, distractors and actor (kind, direction, colour family from ``cls``)."""
    if cls not in TASK_CLASSES[spec.task] or spec.task == "motion":
        raise ValueError(f"{cls!r} is not a class of task {spec.task!r}")
    family, kind, how = split_class(cls)
    mixed = spec.task == "mixed"
    height, width = spec.frame_size
    side, tile = min(height, width), max(height, width)
    texture = noise_background(rng, tile, period=(0.05, 0.2), contrast=(1.0, 2.5))
    background = np.clip(texture[:height, :width], 0, 255)
    background = (desaturate(background) if mixed else background).astype(np.float32)
    target = float(luminance(background.reshape(-1, 3).mean(0)))
    scene_colour = neutral_colour if mixed else any_colour
    distractors = []
    for _ in range(rng.integers(spec.num_distractors[0], spec.num_distractors[1] + 1)):
        shape = _new_shape(rng, KINDS[rng.integers(len(KINDS))], side, tile)
        shape = _coloured(shape, lambda: scene_colour(rng), target, spec.min_contrast)
        distractors.append((shape, rng.uniform(*_in_view(shape.extent(), height, width))))
    actor_colour = (lambda: family_colour(rng, family)) if family else (lambda: scene_colour(rng))
    actor = _coloured(_new_shape(rng, kind, side, tile), actor_colour, target, spec.min_contrast)
    # distractors [0, depth) lie below the actor. In "mixed" the actor is never covered: a distractor over
    # it would hide its silhouette from flow, which then mistakes a ball for a bar (the depth is still drawn,
    # so the rest of the scene is the same as with a random depth).
    depth = int(rng.integers(len(distractors) + 1))
    depth = len(distractors) if mixed else depth
    # The same travel must fit along x and y, so the middle frame's position does not depend on the axis.
    low, high = _in_view(actor.extent(), height, width)
    steps = spec.num_frames - 1
    room = high - low
    travel = min(rng.uniform(*spec.speed) * steps, max(float(room.min()), 0.0))
    centre_mid = low + travel / 2 + rng.random(2) * np.maximum(room - travel, 0.0)
    velocity = travel / steps * np.asarray(UNIT_VELOCITY[how])
    return ObjectsScene(background, tuple(distractors), actor, depth, centre_mid, velocity, spec.num_frames)


def draw_scene(spec: SyntheticSpec, scene: ObjectsScene, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 BGR of ``scene``, with fresh pixel noise from ``rng``."""
    below = scene.background.astype(np.float64)
    for shape, centre in scene.distractors[: scene.actor_depth]:
        below = shape.paint(below, centre)
    height, width = spec.frame_size
    frames = np.empty((spec.num_frames, height, width, 3), np.uint8)
    for t in range(spec.num_frames):
        frame = scene.actor.paint(below, scene.actor_centre(t))
        for shape, centre in scene.distractors[scene.actor_depth :]:
            frame = shape.paint(frame, centre)
        frame += rng.normal(0, spec.noise, frame.shape)
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames


def render_objects(spec: SyntheticSpec, cls: str, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 BGR of one objects- or mixed-task video of class ``cls``."""
    return draw_scene(spec, plan_scene(spec, cls, rng), rng)
