"""Write colourised disparity PNGs of a few validation / test images, each stacked under its input image."""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence

import cv2
import mmcv
import numpy as np
from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook

from hybrid_depth.utils.atomic import atomic_write

__all__ = ['DisparityVisualizationHook', 'colorize_disparity']


def colorize_disparity(disp: np.ndarray, vmax_percentile: float = 95.0) -> np.ndarray:
    """Magma-coloured disparity (Monodepth2's display: normalised by the 95th percentile).

    Args:
        disp: (H, W) disparity (any positive scale).
        vmax_percentile: Percentile mapped to the top of the colour map.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    disp = np.asarray(disp, dtype=np.float32)
    lo, hi = float(disp.min()), float(np.percentile(disp, vmax_percentile))
    norm = np.clip((disp - lo) / max(hi - lo, 1e-8), 0, 1)
    bgr = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    return bgr[..., ::-1].copy()


@HOOKS.register_module()
class DisparityVisualizationHook(Hook):
    """Save ``[input; colourised disparity]`` PNGs for the first ``max_images`` images of each evaluation.

    Files: ``<work_dir>/<timestamp>/vis_disparity/{val_iter_<iter>,test}/<sample_idx>_<image name>.png``
    (``test_out_dir`` replaces ``vis_disparity/test`` when given, e.g. by ``tools/test.py --show-dir``); each image
    is also sent to the visualizer's backends (TensorBoard). Predictions need ``pred_disp`` (1, h, w) and
    ``img_path`` (``SelfSupervisedDepthEstimator.predict``).

    Args:
        draw: Write images at all (``tools/test.py --show-dir`` switches it on for tests).
        max_images: Images written per evaluation.
        interval: Evaluate-every-``interval`` validation runs are drawn.
        test_out_dir: Output folder for tests (relative to the run's log dir unless absolute).
        show: Unsupported (no display); must stay False.
        wait_time: Accepted for ``tools/test.py`` compatibility (only used with ``show``).
        vis_task: Must be ``'depth'`` (``tools/test.py --task depth``).
        score_thr: Accepted for ``tools/test.py`` compatibility; disparity maps have no scores.
    """

    priority = 'NORMAL'

    def __init__(self, draw: bool = True, max_images: int = 4, interval: int = 1, test_out_dir: str | None = None,
                 show: bool = False, wait_time: float = 0.0, vis_task: str = 'depth', score_thr: float = 0.0) -> None:
        if show:
            raise ValueError('DisparityVisualizationHook cannot show windows; use --show-dir')
        if vis_task != 'depth':
            raise ValueError(f"DisparityVisualizationHook draws depth only (--task depth), got {vis_task!r}")
        self.draw = draw
        self.max_images = max_images
        self.interval = interval
        self.test_out_dir = test_out_dir
        self.wait_time = wait_time
        self.score_thr = score_thr
        self._written = 0
        self._val_runs = 0

    def before_val(self, runner) -> None:
        self._written = 0
        self._val_runs += 1

    def before_test(self, runner) -> None:
        self._written = 0

    def _save(self, runner, out_dir: str, outputs: Sequence[dict], step: int) -> None:
        for out in outputs:
            if self._written >= self.max_images:
                return
            if 'pred_disp' not in out:
                raise KeyError('DisparityVisualizationHook needs predictions with pred_disp (a depth model); '
                               f'got keys {sorted(out)}')
            img = mmcv.imread(out['img_path'], channel_order='rgb')
            disp = colorize_disparity(np.asarray(out['pred_disp'])[0])
            disp = cv2.resize(disp, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
            panel = np.concatenate([img, disp], axis=0)
            name = f"{out.get('sample_idx', self._written)}_{osp.splitext(osp.basename(out['img_path']))[0]}"
            os.makedirs(out_dir, exist_ok=True)
            with atomic_write(osp.join(out_dir, f'{name}.png')) as tmp:
                mmcv.imwrite(panel[..., ::-1], str(tmp))
            runner.visualizer.add_image(f'disparity/{name}', panel, step=step)
            self._written += 1

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.draw or outputs is None or self._val_runs % self.interval:
            return
        step = runner.iter
        self._save(runner, osp.join(runner.log_dir, 'vis_disparity', f'val_iter_{step}'), outputs, step)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.draw or outputs is None:
            return
        out_dir = self.test_out_dir or 'vis_disparity/test'
        if not osp.isabs(out_dir):
            out_dir = osp.join(runner.log_dir, out_dir)
        self._save(runner, out_dir, outputs, 0)
