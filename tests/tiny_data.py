"""The tiny benchmark the data tests extract: 2 motion classes, 2 training + 1 test video each, 8 frames."""

from __future__ import annotations

from pathlib import Path

from dualaction_lib.data.synthetic import SyntheticSpec

TINY = SyntheticSpec(
    num_classes=2, videos_per_class_train=2, videos_per_class_test=1, num_frames=8, frame_size=(32, 32)
)
IDS = [
    "TranslateLeft/v_TranslateLeft_g01_c01",
    "TranslateLeft/v_TranslateLeft_g08_c01",
    "TranslateLeft/v_TranslateLeft_g09_c01",
    "TranslateRight/v_TranslateRight_g01_c01",
    "TranslateRight/v_TranslateRight_g08_c01",
    "TranslateRight/v_TranslateRight_g09_c01",
]


def checked_splits(frames_root, modality: str, level: str = "fast", bound: float | None = None, **options):
    """(train, test, check result): datasets of split 1 made of the videos the data check finds usable;
    one DataWarning counts the others."""
    from dualaction_lib.data import ClipOptions, VideoDataset, load_index, usable_videos
    from dualaction_lib.data.check import warn_left_out
    from dualaction_lib.data.layouts import detect_split_format

    splits = Path(frames_root) / "splits"
    entries, classes = load_index(detect_split_format(splits), splits, 1)
    records, result = usable_videos(frames_root, entries, modality, level, bound)
    warn_left_out(result.left_out, len(entries), Path(frames_root))
    split_of = {e.video_id: e.split for e in entries}
    options = ClipOptions(**options)
    train, test = (
        VideoDataset([r for r in records if split_of[r.video_id] == name], modality, name, options)
        for name in ("train", "test")
    )
    return train, test, result
