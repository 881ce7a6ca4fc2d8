"""tools/infer_depth.py: a folder of synthetic KITTI frames in, ``_depth.npy`` equal to the model's own forward and
an image-sized ``_disp.png`` out; bad images, checkpoints and configs get one line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/demo/depth_fine_kitti.py'


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'tools/infer_depth.py', *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)


@pytest.fixture(scope='module')
def model_and_checkpoint(tmp_path_factory):
    """The demo fine model (random init, seed 0) and a Runner-style checkpoint of it."""
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hybrid_depth  # noqa: F401
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(ROOT / CONFIG)).model).eval()
    path = tmp_path_factory.mktemp('infer') / 'fine.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model, path


def test_folder_outputs_equal_the_model_forward(synthetic_world, model_and_checkpoint, tmp_path):
    from hybrid_depth.geometry import disp_to_depth
    model, ckpt = model_and_checkpoint
    frames = sorted((synthetic_world.kitti).glob('*/*/image_02/data/*.jpg'))[:2]
    images = tmp_path / 'images'
    images.mkdir()
    for f in frames:
        shutil.copy(f, images / f.name)
    res = _run(CONFIG, str(ckpt), str(images), '--out-dir', str(tmp_path / 'out'), '--metric-scale', '2')
    assert res.returncode == 0, res.stderr[-3000:]
    for f in frames:
        depth = np.load(tmp_path / 'out' / f'{f.stem}_depth.npy')
        # the model's forward on the same frame, read and resized here as in training (RGB, area, [0, 1])
        img = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
        small = cv2.resize(img, (192, 64), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            _, ref = disp_to_depth(model.predict_disparity(x)[0], model.min_depth, model.max_depth)
        assert depth.shape == (64, 192) and depth.dtype == np.float32
        np.testing.assert_allclose(depth, 2 * ref[0, 0].numpy(), rtol=1e-5, atol=1e-6)
        png = cv2.imread(str(tmp_path / 'out' / f'{f.stem}_disp.png'))
        assert png.shape == img.shape and png.std() > 0  # the image's size, not a flat picture


def test_bad_inputs_get_one_line(synthetic_world, model_and_checkpoint, tmp_path):
    _, ckpt = model_and_checkpoint
    frame = sorted((synthetic_world.kitti).glob('*/*/image_02/data/*.jpg'))[0]
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(frame.read_bytes()[:200])  # truncated JPEG
    res = _run(CONFIG, str(ckpt), str(bad))
    assert res.returncode == 2 and str(bad) in res.stderr.strip().splitlines()[-1], res.stderr[-2000:]
    assert not list(tmp_path.glob('bad_*'))  # nothing written for it
    # the same errors in-process (the tool prints their one line, as above)
    from mmengine.config import Config

    from hybrid_depth.apis import init_depth_model
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_depth_model(Config.fromfile(str(ROOT / CONFIG)), str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='predicts no dense depth'):
        init_depth_model(Config.fromfile(str(ROOT / 'configs/demo/depth_coarse_tusimple.py')), str(ckpt))
