"""Disparity PNG hook: colour mapping and argument checks (its file output is exercised end to end in
tests/configs/test_depth_configs.py, through tools/train.py and tools/test.py --show-dir)."""
from __future__ import annotations

import numpy as np
import pytest

from hybrid_depth.engine.hooks import DisparityVisualizationHook, colorize_disparity


def test_colorize_disparity_maps_near_to_bright() -> None:
    disp = np.tile(np.linspace(0.01, 1.0, 50, dtype=np.float32)[:, None], (1, 8))  # far (top) -> near (bottom)
    rgb = colorize_disparity(disp)
    assert rgb.shape == (50, 8, 3) and rgb.dtype == np.uint8
    brightness = rgb.astype(np.float32).sum(-1)[:, 0]
    assert brightness[-1] > brightness[25] > brightness[0]  # magma: dark for far, bright for near
    assert np.array_equal(rgb[0], rgb[0, :1].repeat(8, 0))


def test_hook_rejects_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match='show'):
        DisparityVisualizationHook(show=True)
    with pytest.raises(ValueError, match='multi-view_det'):
        DisparityVisualizationHook(vis_task='multi-view_det')
    DisparityVisualizationHook(draw=True, test_out_dir='vis', wait_time=2, vis_task='depth', score_thr=0.3)
