"""The synthetic TuSimple labels parse like TuSimple's and their points lie on rendered lane markings."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image


def _is_paint(img: np.ndarray, x: int, y: int, radius: int = 2) -> bool:
    """Whether white or yellow paint is within ``radius`` pixels of (x, y) on row y."""
    row = img[y, max(0, x - radius):x + radius + 1].astype(np.float64)
    white = (row.min(-1) > 165)
    yellow = (row[:, 0] > 150) & (row[:, 1] > 120) & (row[:, 2] < 110)
    return bool((white | yellow).any())


def _labels(root) -> list[dict]:
    files = sorted(root.glob('label_data_*.json'))
    assert files
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_label_lines_parse_and_reference_frames(synthetic_world):
    labels = _labels(synthetic_world.tusimple)
    assert len(labels) >= 2
    for lab in labels:
        assert set(lab) == {'lanes', 'h_samples', 'raw_file'}
        assert lab['raw_file'].startswith('clips/') and lab['raw_file'].endswith('/20.jpg')
        with Image.open(synthetic_world.tusimple / lab['raw_file']) as im:
            w, h = im.size
        hs = lab['h_samples']
        assert hs == sorted(hs) and 0 <= hs[0] and hs[-1] < h  # top to bottom
        assert len(lab['lanes']) >= 2
        for lane in lab['lanes']:
            assert len(lane) == len(hs)
            assert all(x == -2 or 0 <= x < w for x in lane)
            xs = [x for x in lane if x >= 0]
            assert len(xs) >= 4


def test_lane_points_fall_on_lane_marking_pixels(synthetic_world):
    on, shifted, n = 0, 0, 0
    for lab in _labels(synthetic_world.tusimple):
        img = np.asarray(Image.open(synthetic_world.tusimple / lab['raw_file']))
        for lane in lab['lanes']:
            for x, y in zip(lane, lab['h_samples']):
                if x < 0:
                    continue
                n += 1
                on += _is_paint(img, x, y)
                shifted += _is_paint(img, min(x + 12, img.shape[1] - 1), y)
    assert n > 50
    # solid lines are painted everywhere, dashed ones 4 m in every 6 m
    assert on / n > 0.65, on / n
    assert shifted / n < 0.25, shifted / n
