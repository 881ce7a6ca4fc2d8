"""Readers of sensor files: a missing, empty, truncated or malformed file is one error naming it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybrid_depth.datasets.file_readers import read_image, read_points


@pytest.fixture
def jpeg(tmp_path):
    path = tmp_path / 'frame.jpg'
    y, x = np.mgrid[0:64, 0:96]
    Image.fromarray(np.stack([x * 2, y * 3, (x + y)], -1).astype(np.uint8)).save(path, quality=95)
    return path


def test_reads_a_good_jpeg_in_both_channel_orders(jpeg):
    bgr, rgb = read_image(str(jpeg), 'sample s'), read_image(str(jpeg), 'sample s', channel_order='rgb')
    assert bgr.shape == (64, 96, 3) and np.array_equal(bgr[..., ::-1], rgb)


@pytest.mark.parametrize('damage, error, words', [
    ('missing', FileNotFoundError, 'not found'), ('empty', OSError, 'empty'), ('half', OSError, 'truncated'),
    ('tail', OSError, 'truncated'), ('text', OSError, 'cannot be decoded')])
def test_bad_images_name_the_file_and_sample(jpeg, tmp_path, damage, error, words):
    bad = tmp_path / 'bad.jpg'
    data = jpeg.read_bytes()
    if damage != 'missing':
        # 'tail': only the end-of-image marker is lost; OpenCV still decodes it (silently, without the check)
        bad.write_bytes({'empty': b'', 'half': data[:len(data) // 2], 'tail': data[:-2],
                         'text': b'not an image'}[damage])
    with pytest.raises(error, match=words) as err:
        read_image(str(bad), 'sample abc: camera CAM_BACK')
    assert str(bad) in str(err.value) and 'sample abc' in str(err.value)


def test_points(tmp_path):
    good = tmp_path / 'p.bin'
    np.arange(20, dtype=np.float32).tofile(good)
    assert read_points(str(good), 5, 's').shape == (4, 5)
    with pytest.raises(ValueError, match='not N x 3'):
        read_points(str(good), 3, 'sample t')
    with pytest.raises(FileNotFoundError, match='sample t: LiDAR file not found: None'):
        read_points(None, 5, 'sample t')


def test_depth_frame_loader_names_the_sample_and_frame(jpeg, tmp_path):
    from hybrid_depth.datasets.depth_transforms import LoadDepthFrames
    bad = tmp_path / 'cut.jpg'
    bad.write_bytes(jpeg.read_bytes()[:-2])
    with pytest.raises(OSError) as err:
        LoadDepthFrames()({'sample_idx': 7, 'frame_paths': {0: str(jpeg), 1: str(bad)}})
    assert 'sample 7 frame +1' in str(err.value) and str(bad) in str(err.value)
    out = LoadDepthFrames()({'sample_idx': 7, 'frame_paths': {0: str(jpeg)}})
    assert out['frames'][0].shape == (64, 96, 3)


def test_tools_print_a_worker_wrapped_data_error_as_its_last_line():
    from hybrid_depth.engine.cli import DATA_ERRORS, data_error_line
    wrapped = OSError('Caught OSError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n'
                      '  File "x.py", line 1, in f\nOSError: sample abc: camera CAM_BACK: truncated JPEG: /d/a.jpg\n')
    assert isinstance(wrapped, DATA_ERRORS)
    assert data_error_line(wrapped) == 'sample abc: camera CAM_BACK: truncated JPEG: /d/a.jpg'
    assert data_error_line(FileNotFoundError('info file not found: /x.pkl')) == 'info file not found: /x.pkl'
