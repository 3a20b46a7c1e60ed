"""Split files (UCF-101, HMDB-51) and frame-folder namings (MARS, mmaction2/denseflow).

Labels are 0-based everywhere in this package. UCF-101's ``classInd.txt`` is 1-based
(``1 ApplyEyeMakeup``) and so are the labels in ``trainlist0k.txt``
(``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``); ``testlist0k.txt`` lines carry no label
(``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi``). HMDB-51 has one file per class and split,
``<class>_test_split<k>.txt``, with lines ``<video>.avi <tag>`` (1 = train, 2 = test, 0 = unused); its
classes are the sorted class names. The "synthetic" benchmark is written in the UCF-101 format.

Every parse error names the file and the line number; nothing is guessed silently.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")
SPLITS = (1, 2, 3)
_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>[1-9])\.txt$")
_HMDB_TAGS = {"1": "train", "2": "test", "0": "unused"}


@dataclass(frozen=True)
class VideoEntry:
    video_id: str  # "<class>/<video stem>", relative path without extension
    label: int  # 0-based class index
    split: str  # "train" | "test"


class SplitFileError(ValueError):
    """An ill-formed or inconsistent split file (the message names file and line)."""


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) for the non-blank lines; tolerates CRLF (the real UCF files use it)."""
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _strip_video_ext(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return stem if dot and f".{ext.lower()}" in VIDEO_EXTENSIONS else name


def parse_class_ind(path: Path) -> list[str]:
    """``classInd.txt`` -> class names in label order; indices must be exactly 1..C."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: a UCF-101 split folder holds classInd.txt, trainlist0k.txt and "
            f"testlist0k.txt (pass the folder that has them with --splits)"
        )
    classes: list[str] = []
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) > 2 and parts[0].isdigit():
            raise SplitFileError(
                f"{path}:{number}: class name {' '.join(parts[1:])!r} contains spaces; a class name is "
                f"one token, the name of its video folder (e.g. 'ApplyEyeMakeup')"
            )
        if len(parts) != 2 or not parts[0].isdigit():
            raise SplitFileError(f"{path}:{number}: expected '<index> <ClassName>', got {line!r}")
        if int(parts[0]) != len(classes) + 1:
            raise SplitFileError(
                f"{path}:{number}: class indices must run 1, 2, 3, ... (1-based); expected "
                f"{len(classes) + 1}, got {parts[0]}"
            )
        if parts[1] in classes:
            raise SplitFileError(f"{path}:{number}: duplicate class name {parts[1]!r}")
        classes.append(parts[1])
    if not classes:
        raise SplitFileError(f"{path}: no classes")
    return classes


def parse_ucf_list(path: Path, classes: list[str], split: str) -> list[VideoEntry]:
    """``trainlist0k.txt`` (``<Class>/<video>.avi <label 1-based>``) or ``testlist0k.txt`` (no label)."""
    index = {name: i for i, name in enumerate(classes)}
    entries = []
    for number, line in _lines(path):
        parts = line.split()
        expected = 2 if split == "train" else 1
        if len(parts) != expected or parts[0].count("/") != 1:
            form = "'<Class>/<video>.avi <label>'" if split == "train" else "'<Class>/<video>.avi'"
            raise SplitFileError(f"{path}:{number}: expected {form}, got {line!r}")
        class_name = parts[0].split("/")[0]
        if class_name not in index:
            raise SplitFileError(f"{path}:{number}: unknown class {class_name!r} (not in classInd.txt)")
        label = index[class_name]
        if split == "train":
            if not parts[1].isdigit():
                raise SplitFileError(f"{path}:{number}: label {parts[1]!r} is not an integer")
            if not 1 <= int(parts[1]) <= len(classes):
                raise SplitFileError(
                    f"{path}:{number}: label {parts[1]} is out of range 1..{len(classes)} (labels are "
                    f"1-based and classInd.txt lists {len(classes)} classes)"
                )
            if int(parts[1]) - 1 != label:
                raise SplitFileError(
                    f"{path}:{number}: label {parts[1]} (1-based) disagrees with class {class_name!r}, "
                    f"which is {label + 1} in classInd.txt"
                )
        entries.append(VideoEntry(_strip_video_ext(parts[0]), label, split))
    if not entries:
        raise SplitFileError(f"{path}: no videos listed; a split needs both train and test videos")
    return entries


def load_ucf101(splits_dir: Path, split: int = 1) -> tuple[list[VideoEntry], list[str]]:
    splits_dir = Path(splits_dir)
    classes = parse_class_ind(splits_dir / "classInd.txt")
    train = parse_ucf_list(splits_dir / f"trainlist{split:02d}.txt", classes, "train")
    test = parse_ucf_list(splits_dir / f"testlist{split:02d}.txt", classes, "test")
    return _check_unique(train + test, splits_dir), classes


def hmdb_split_files(splits_dir: Path, split: int) -> dict[str, Path]:
    """class name -> ``<class>_test_split<k>.txt`` for one split, sorted by class name."""
    found = {}
    for path in sorted(Path(splits_dir).glob(f"*_test_split{split}.txt")):
        match = _HMDB_FILE.match(path.name)
        if match:
            found[match["cls"]] = path
    if not found:
        raise FileNotFoundError(f"no HMDB-51 split files '<class>_test_split{split}.txt' in {splits_dir}")
    return dict(sorted(found.items()))


def load_hmdb51(splits_dir: Path, split: int = 1) -> tuple[list[VideoEntry], list[str]]:
    files = hmdb_split_files(Path(splits_dir), split)
    classes = list(files)
    entries = []
    for label, (class_name, path) in enumerate(files.items()):
        for number, line in _lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in _HMDB_TAGS or "/" in parts[0]:
                raise SplitFileError(f"{path}:{number}: expected '<video>.avi <0|1|2>', got {line!r}")
            if _HMDB_TAGS[parts[1]] != "unused":
                video_id = f"{class_name}/{_strip_video_ext(parts[0])}"
                entries.append(VideoEntry(video_id, label, _HMDB_TAGS[parts[1]]))
    for tag, kind in (("1", "train"), ("2", "test")):
        if not any(e.split == kind for e in entries):
            raise SplitFileError(
                f"{Path(splits_dir) / f'*_test_split{split}.txt'}: no video tagged {tag} ({kind}); "
                f"a split needs both train and test videos"
            )
    return _check_unique(entries, Path(splits_dir)), classes


def _check_unique(entries: list[VideoEntry], where: Path) -> list[VideoEntry]:
    seen: set[str] = set()
    for entry in entries:
        if entry.video_id in seen:
            raise SplitFileError(f"{where}: video {entry.video_id!r} is listed more than once")
        seen.add(entry.video_id)
    return entries


def detect_split_format(splits_dir: Path) -> str:
    """ "ucf101" (classInd.txt) or "hmdb51" (<class>_test_split<k>.txt); error if both or neither."""
    splits_dir = Path(splits_dir)
    ucf = (splits_dir / "classInd.txt").is_file()
    hmdb = any(_HMDB_FILE.match(p.name) for p in splits_dir.glob("*_test_split*.txt"))
    if ucf and hmdb:
        raise ValueError(f"{splits_dir} holds both UCF-101 and HMDB-51 split files; pass the dataset")
    if not (ucf or hmdb):
        raise FileNotFoundError(
            f"{splits_dir}: no split files (UCF-101 'classInd.txt' or HMDB-51 '<class>_test_split1.txt')"
        )
    return "ucf101" if ucf else "hmdb51"


def load_index(dataset: str, splits_dir, split: int = 1) -> tuple[list[VideoEntry], list[str]]:
    """One index (train + test entries, 0-based labels) and the class names for split ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split}")
    if dataset == "auto":
        dataset = detect_split_format(Path(splits_dir))
    if dataset in ("ucf101", "synthetic"):
        return load_ucf101(Path(splits_dir), split)
    if dataset == "hmdb51":
        return load_hmdb51(Path(splits_dir), split)
    raise ValueError(f"dataset must be 'ucf101', 'hmdb51', 'synthetic' or 'auto', got {dataset!r}")


def available_splits(splits_dir: Path, dataset: str) -> list[int]:
    """The split numbers whose files exist (UCF: trainlist0k + testlist0k; HMDB: any class file)."""
    splits_dir = Path(splits_dir)
    if dataset in ("ucf101", "synthetic"):
        return [
            k
            for k in SPLITS
            if (splits_dir / f"trainlist{k:02d}.txt").is_file()
            and (splits_dir / f"testlist{k:02d}.txt").is_file()
        ]
    return [k for k in SPLITS if any(splits_dir.glob(f"*_test_split{k}.txt"))]


def split_files(splits_dir: Path, dataset: str) -> list[Path]:
    """Every split file of the data set (what ``prepare`` copies to ``<out>/splits``)."""
    splits_dir = Path(splits_dir)
    if dataset in ("ucf101", "synthetic"):
        lists = [f"{kind}{k:02d}.txt" for k in SPLITS for kind in ("trainlist", "testlist")]
        names = ["classInd.txt", *lists]
        return [splits_dir / n for n in names if (splits_dir / n).is_file()]
    return sorted(p for p in splits_dir.glob("*_test_split*.txt") if _HMDB_FILE.match(p.name))


# --------------------------------------------------------------------------- frame-folder namings


@dataclass(frozen=True)
class FrameNaming:
    """File names of one extracted video folder; ``position`` is always 0-based."""

    name: str  # "mars" | "mmaction2"
    rgb_prefix: str
    flow_prefix: tuple[str, str]  # (x, y)
    start: int  # index of the first file: 1 (MARS) or 0 (mmaction2/denseflow)

    def rgb(self, position: int) -> str:
        return f"{self.rgb_prefix}{position + self.start:05d}.jpg"

    def flow(self, position: int, axis: int) -> str:
        return f"{self.flow_prefix[axis]}{position + self.start:05d}.jpg"

    @property
    def rgb_pattern(self) -> re.Pattern:
        return re.compile(rf"^{re.escape(self.rgb_prefix)}(\d{{5}})\.jpg$")

    def flow_pattern(self, axis: int) -> re.Pattern:
        return re.compile(rf"^{re.escape(self.flow_prefix[axis])}(\d{{5}})\.jpg$")


MARS = FrameNaming("mars", "", ("TVL1jpg_x_", "TVL1jpg_y_"), 1)
# img_/flow_x_ folders come in both bases: open-mmlab/denseflow counts from 0, yjxiong/dense_flow and
# mmaction2's RawframeDataset (start_index=1) from 1. prepare writes 0-based; loaders detect the base.
MMACTION2 = FrameNaming("mmaction2", "img_", ("flow_x_", "flow_y_"), 0)
MMACTION2_FROM_1 = dataclasses.replace(MMACTION2, start=1)
NAMINGS = {"mars": MARS, "mmaction2": MMACTION2, "denseflow": MMACTION2}
_BASES = {"mars": (1,), "mmaction2": (0, 1)}  # the first indices each naming is found with


def get_naming(name: str | FrameNaming, start: int | None = None) -> FrameNaming:
    """A naming by name ("mars", "mmaction2"/"denseflow"), optionally with another first index."""
    naming = name if isinstance(name, FrameNaming) else NAMINGS.get(name)
    if naming is None:
        raise ValueError(f"frame naming must be one of {sorted(NAMINGS)}, got {name!r}")
    if start is None or start == naming.start:
        return naming
    if start not in _BASES[naming.name]:
        raise ValueError(f"{naming.name} file indices start at {_BASES[naming.name]}, not {start}")
    return MMACTION2_FROM_1 if naming.name == "mmaction2" else dataclasses.replace(naming, start=start)


def first_frame_folder(frames_dir: Path, max_depth: int = 3) -> Path:
    """``frames_dir`` itself if it holds JPEGs, else the first (sorted) descendant folder that does."""
    level = [frames_dir]
    for _ in range(max_depth + 1):
        for folder in level:
            if any(folder.glob("*.jpg")):
                return folder
        level = sorted(p for folder in level for p in folder.iterdir() if p.is_dir() and p.name != "splits")
        if not level:
            break
    raise FileNotFoundError(f"no .jpg frames found in {frames_dir} (searched {max_depth} levels deep)")


def naming_of_files(names, folder: Path) -> FrameNaming:
    """The naming and index base of one video folder's file names.

    Raises if both namings or neither occur, if frames, flow-x and flow-y start at different indices,
    or if the first index is not a base the naming is written with (a MARS-named ``00000.jpg``): an
    off-by-one is an error, not something to guess around.
    """
    hits = {}
    for naming in (MARS, MMACTION2):
        kinds = {
            "frames": naming.rgb_pattern,
            "flow-x": naming.flow_pattern(0),
            "flow-y": naming.flow_pattern(1),
        }
        firsts = {}
        for kind, pattern in kinds.items():
            indices = [int(m[1]) for m in map(pattern.match, names) if m]
            if indices:
                firsts[kind] = min(indices)
        if firsts:
            hits[naming.name] = (naming, firsts)
    if len(hits) != 1:
        found = "both MARS and mmaction2" if hits else "neither MARS nor mmaction2"
        raise ValueError(
            f"{folder}: {found} frame names found (MARS: 00001.jpg, TVL1jpg_x_00001.jpg; "
            f"mmaction2/denseflow: img_00000.jpg or img_00001.jpg, flow_x_…); pass the naming explicitly"
        )
    naming, firsts = next(iter(hits.values()))
    if len(set(firsts.values())) > 1:
        starts = ", ".join(f"{kind} at {first:05d}" for kind, first in firsts.items())
        raise ValueError(
            f"{folder}: file indices start at different numbers ({starts}); one folder uses one base"
        )
    first = next(iter(firsts.values()))
    if first not in _BASES[naming.name]:
        expected = " or ".join(f"{b:05d}" for b in _BASES[naming.name])
        raise ValueError(
            f"{folder}: {naming.name} names but the first index is {first:05d}, expected {expected}; "
            f"refusing to guess an off-by-one"
        )
    return get_naming(naming, first)


def detect_naming(frames_dir) -> FrameNaming:
    """Detect MARS vs mmaction2/denseflow naming and its base from a video folder or a frames root.

    A root is judged by its first video folder; loaders detect every other folder's base on its own.
    """
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"frames folder not found: {frames_dir}")
    folder = first_frame_folder(frames_dir)
    return naming_of_files([p.name for p in folder.glob("*.jpg")], folder)
