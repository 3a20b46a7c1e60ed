"""Split files (UCF-101, HMDB-51) and frame-folder naming detection, on fixtures in the real formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualaction_lib.data.layouts import (
    MARS,
    MMACTION2,
    MMACTION2_FROM_1,
    SplitFileError,
    available_splits,
    detect_naming,
    detect_split_format,
    load_index,
)

UCF_CLASSES = ["ApplyEyeMakeup", "ApplyLipstick", "HandstandPushups"]


def write_ucf(folder: Path, splits=(1, 2, 3)) -> Path:
    """The real UCF-101 format: CRLF, 1-based classInd, labels only in trainlists."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classInd.txt").write_bytes(
        "".join(f"{i} {c}\r\n" for i, c in enumerate(UCF_CLASSES, 1)).encode()
    )
    for k in splits:
        train, test = [], []
        for label, cls in enumerate(UCF_CLASSES, 1):
            file_cls = "HandStandPushups" if cls == "HandstandPushups" else cls  # real UCF quirk
            for g in range(1, 10):
                line = f"{cls}/v_{file_cls}_g{g:02d}_c01.avi"
                (test if (g + k) % 3 == 0 else train).append(line)
                if (g + k) % 3 != 0:
                    train[-1] += f" {label}"
        (folder / f"trainlist{k:02d}.txt").write_bytes("".join(f"{x}\r\n" for x in train).encode())
        (folder / f"testlist{k:02d}.txt").write_bytes("".join(f"{x}\r\n" for x in test).encode())
    return folder


HMDB_CLASSES = ["brush_hair", "cartwheel", "sword_exercise"]


def write_hmdb(folder: Path) -> Path:
    """The real HMDB-51 format: one file per class and split, 'name.avi <0|1|2> ' with a trailing space."""
    folder.mkdir(parents=True, exist_ok=True)
    for cls in HMDB_CLASSES:
        for k in (1, 2, 3):
            lines = [f"April_09_{cls}_u_nm_np1_ba_goo_{i}.avi {(i + k) % 3} \n" for i in range(6)]
            (folder / f"{cls}_test_split{k}.txt").write_text("".join(lines))
    return folder


def test_ucf_index_labels_and_splits(tmp_path):
    splits = write_ucf(tmp_path)
    assert detect_split_format(splits) == "ucf101"
    assert available_splits(splits, "ucf101") == [1, 2, 3]
    for k in (1, 2, 3):
        entries, classes = load_index("ucf101", splits, k)
        assert classes == UCF_CLASSES
        assert len(entries) == 27
        train = [e for e in entries if e.split == "train"]
        test = [e for e in entries if e.split == "test"]
        assert len(train) == 18 and len(test) == 9
    entries, _ = load_index("ucf101", splits, 1)
    first = entries[0]
    assert first.video_id == "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01" and first.label == 0
    quirk = [e for e in entries if e.video_id.startswith("HandstandPushups/")]
    assert quirk and all(e.label == 2 and "v_HandStandPushups_" in e.video_id for e in quirk)
    # Test-list labels come from classInd (0-based), the lines themselves carry none.
    assert {e.label for e in entries if e.split == "test"} == {0, 1, 2}


def test_hmdb_index_tags(tmp_path):
    splits = write_hmdb(tmp_path)
    assert detect_split_format(splits) == "hmdb51"
    entries, classes = load_index("hmdb51", splits, 1)
    assert classes == sorted(HMDB_CLASSES)
    # tag (i + 1) % 3: 1 = train, 2 = test, 0 = unused (left out).
    per_class = [e for e in entries if e.label == 1]
    assert [e.split for e in per_class] == ["train", "test", "train", "test"]
    assert per_class[0].video_id == "cartwheel/April_09_cartwheel_u_nm_np1_ba_goo_0"
    assert len(load_index("auto", splits, 2)[0]) == 12


def test_ill_formed_lines_name_file_and_line(tmp_path):
    splits = write_ucf(tmp_path, splits=(1,))
    path = splits / "trainlist01.txt"
    lines = path.read_text().splitlines()
    lines[3] = "ApplyEyeMakeup/v_ApplyEyeMakeup_g05_c01.avi"  # label missing in a train list
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt:4: expected"):
        load_index("ucf101", splits, 1)
    lines[3] = "ApplyEyeMakeup/v_ApplyEyeMakeup_g05_c01.avi 2"  # label of another class
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt:4: label 2 .* disagrees"):
        load_index("ucf101", splits, 1)
    (splits / "classInd.txt").write_text("1 A\n3 B\n")
    with pytest.raises(SplitFileError, match=r"classInd\.txt:2: class indices"):
        load_index("ucf101", splits, 1)
    hmdb = write_hmdb(tmp_path / "hmdb")
    (hmdb / "cartwheel_test_split1.txt").write_text("a.avi 1\nb.avi 7\n")
    with pytest.raises(SplitFileError, match=r"cartwheel_test_split1\.txt:2"):
        load_index("hmdb51", hmdb, 1)


def test_unknown_class_is_named(tmp_path):
    splits = write_ucf(tmp_path, splits=(1,))
    with open(splits / "testlist01.txt", "a") as handle:
        handle.write("Juggling/v_Juggling_g01_c01.avi\r\n")
    with pytest.raises(SplitFileError, match=r"testlist01\.txt:10: unknown class 'Juggling'"):
        load_index("ucf101", splits, 1)


def test_split_format_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no split files"):
        detect_split_format(tmp_path)
    write_ucf(tmp_path, splits=(1,))
    write_hmdb(tmp_path)
    with pytest.raises(ValueError, match="both"):
        detect_split_format(tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        load_index("ucf101", tmp_path, 4)


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_detect_naming(tmp_path):
    mars = _touch(
        tmp_path / "mars/Cls/v1", "00001.jpg", "00002.jpg", "TVL1jpg_x_00001.jpg", "TVL1jpg_y_00001.jpg"
    )
    assert detect_naming(tmp_path / "mars") is MARS
    assert detect_naming(mars) is MARS
    mm = _touch(
        tmp_path / "mm/Cls/v1", "img_00000.jpg", "img_00001.jpg", "flow_x_00000.jpg", "flow_y_00000.jpg"
    )
    assert detect_naming(mm.parent.parent) is MMACTION2
    assert (MARS.rgb(0), MARS.flow(0, 0), MMACTION2.rgb(0), MMACTION2.flow(0, 1)) == (
        "00001.jpg",
        "TVL1jpg_x_00001.jpg",
        "img_00000.jpg",
        "flow_y_00000.jpg",
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("00001.jpg", "img_00000.jpg"), "both"),
        (("frame1.jpg",), "neither"),
        (("00000.jpg", "00001.jpg"), "first index is 00000"),
        (("img_00002.jpg",), "first index is 00002, expected 00000 or 00001"),
        (
            ("img_00001.jpg", "flow_x_00000.jpg"),
            r"start at different numbers \(frames at 00001, flow-x at 00000",
        ),
    ],
)
def test_detect_naming_refuses_to_guess(tmp_path, names, message):
    _touch(tmp_path / "Cls/v1", *names)
    with pytest.raises(ValueError, match=message):
        detect_naming(tmp_path)


def test_img_folders_are_read_from_either_base(tmp_path):
    """open-mmlab/denseflow writes img_00000.jpg first; yjxiong/dense_flow and mmaction2 (start_index=1)
    write img_00001.jpg first. Both are detected and named from their own first index."""
    zero = _touch(
        tmp_path / "denseflow/Cls/v1",
        "img_00000.jpg",
        "img_00001.jpg",
        "flow_x_00000.jpg",
        "flow_y_00000.jpg",
    )
    one = _touch(
        tmp_path / "dense_flow/Cls/v1",
        "img_00001.jpg",
        "img_00002.jpg",
        "flow_x_00001.jpg",
        "flow_y_00001.jpg",
    )
    assert detect_naming(zero) is MMACTION2 and detect_naming(one) is MMACTION2_FROM_1
    assert (MMACTION2_FROM_1.rgb(0), MMACTION2_FROM_1.flow(0, 0)) == ("img_00001.jpg", "flow_x_00001.jpg")


# --------------------------------------------------------------------------- empty and ill-formed splits


@pytest.mark.parametrize("emptied", ["trainlist01.txt", "testlist01.txt"])
def test_an_empty_list_is_named(tmp_path, emptied):
    splits = write_ucf(tmp_path, splits=(1,))
    (splits / emptied).write_text("")
    with pytest.raises(SplitFileError, match=rf"{emptied}: no videos listed") as err:
        load_index("ucf101", splits, 1)
    assert "\n" not in str(err.value)


def test_both_lists_empty_names_the_train_list(tmp_path):
    splits = write_ucf(tmp_path, splits=(1,))
    (splits / "trainlist01.txt").write_text("\r\n")
    (splits / "testlist01.txt").write_text("")
    with pytest.raises(SplitFileError, match=r"trainlist01\.txt: no videos listed"):
        load_index("ucf101", splits, 1)


def test_hmdb_split_without_test_videos_is_named(tmp_path):
    hmdb = write_hmdb(tmp_path)
    for path in hmdb.glob("*_test_split1.txt"):
        path.write_text(path.read_text().replace(" 2 ", " 0 "))
    with pytest.raises(SplitFileError, match=r"\*_test_split1\.txt: no video tagged 2 \(test\)"):
        load_index("hmdb51", hmdb, 1)


def test_refusals_are_one_actionable_line(tmp_path):
    splits = write_ucf(tmp_path, splits=(1,))
    (splits / "classInd.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"classInd\.txt not found: .* --splits") as err:
        load_index("ucf101", splits, 1)
    messages = [str(err.value)]
    (splits / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Apply Lipstick\n3 HandstandPushups\n")
    with pytest.raises(SplitFileError, match=r"classInd\.txt:2: class name 'Apply Lipstick' contains spaces"):
        load_index("ucf101", splits, 1)
    write_ucf(tmp_path, splits=(1,))
    path = splits / "trainlist01.txt"
    path.write_text(path.read_text().replace(".avi 3", ".avi 102", 1))
    with pytest.raises(
        SplitFileError, match=r"trainlist01\.txt:\d+: label 102 is out of range 1\.\.3"
    ) as err:
        load_index("ucf101", splits, 1)
    messages.append(str(err.value))
    assert all("\n" not in m for m in messages)
