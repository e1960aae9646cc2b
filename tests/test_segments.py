"""Segments files: both time units, half-open ranges, and every refusal named."""

from __future__ import annotations

import pytest
from videos import write_video

from streamcls.errors import ConfigError
from streamcls.ground_truth import label_at, read_segments


def test_seconds_and_frames(tmp_path):
    video = write_video(tmp_path / "a.mp4", 5)
    (tmp_path / "s.csv").write_text("video,start,end,label\na.mp4,0,2.0,cat\na.mp4,2.0,4,dog\n")
    segments = read_segments(tmp_path / "s.csv")
    assert [(s.start, s.end, s.label, s.unit) for s in segments] == [(0, 2.0, "cat", "s"), (2.0, 4.0, "dog", "s")]
    # half-open: frame 50 at 25 fps is 2.0 s, the first frame of "dog"
    assert [label_at(segments, video, index, 25.0) for index in (0, 49, 50, 99, 100)] == ["cat", "cat", "dog", "dog", None]
    (tmp_path / "f.csv").write_text("video,start_frame,end_frame,label\na.mp4,3,5,bird\n")
    frames = read_segments(tmp_path / "f.csv")
    assert [label_at(frames, video, index, None) for index in (2, 3, 4, 5)] == [None, "bird", "bird", None]


@pytest.mark.parametrize(
    "text, message",
    [
        ("video,from,to,label\na.mp4,0,1,x\n", "no time columns"),
        ("clip,start,end,label\na.mp4,0,1,x\n", "expected video,start,end,label"),
        ("video,start,end,label\na.mp4,2,1,x\n", "s.csv:2: received start 2, end 1"),
        ("video,start,end,label\na.mp4,zero,1,x\n", "expected numbers"),
        ("video,start,end,label\nmissing.mp4,0,1,x\n", "video 'missing.mp4' does not exist"),
        ("video,start,end,label\na.mp4,0,1,\n", "the label is empty"),
        ("video,start,end,label\n", "has no rows"),
    ],
)
def test_refusals(tmp_path, text, message):
    write_video(tmp_path / "a.mp4", 2)
    (tmp_path / "s.csv").write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_segments(tmp_path / "s.csv")
