"""A rendered frame pair supports photometric self-supervision: warping frame t+1 into frame t with the
true depth and the relative pose (from the nuScenes tables) explains the image far better than no warp.

The comparison is over the pixels seen in both frames by the static-scene warp (occlusions and moving
objects removed by a depth-consistency check against frame t+1's own depth map), i.e. the pixels the
photometric loss is meant for."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybrid_depth.datasets.synthetic import load_depth_png


def _transform(rotation, translation) -> np.ndarray:
    from pyquaternion import Quaternion
    T = np.eye(4)
    T[:3, :3] = Quaternion(rotation).rotation_matrix
    T[:3, 3] = translation
    return T


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample (H, W, C) ``img`` at float pixel coordinates (N,) -> (N, C)."""
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    a, b = img[v0, u0], img[v0, u0 + 1]
    c, d = img[v0 + 1, u0], img[v0 + 1, u0 + 1]
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv


def warp_into_target(src: np.ndarray, depth_t: np.ndarray, K: np.ndarray, T_src_t: np.ndarray,
                     depth_src: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-warp a source image into the target view.

    Args:
        src: (H, W, 3) float source image (frame t+1).
        depth_t: (H, W) target depth in metres (camera z; 0 = sky, treated as infinitely far).
        K: (3, 3) intrinsics (both frames).
        T_src_t: (4, 4) target camera -> source camera transform.
        depth_src: optional (H, W) source depth; if given, ``valid`` also requires the warped point's depth
            to agree with it within 3 % (both sky or both surface), removing occlusions and moving objects.

    Returns:
        warped: (H, W, 3) source resampled at the target pixels; valid: (H, W) bool, projected inside.
    """
    h, w = depth_t.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([u.ravel(), v.ravel(), np.ones(h * w)])  # (3, HW) homogeneous pixels
    cam = np.linalg.inv(K) @ rays  # (3, HW) target camera frame, z = 1
    d = depth_t.ravel().astype(np.float64)
    far = d <= 0
    p = T_src_t[:3, :3] @ (cam * np.where(far, 1.0, d)) + np.where(far, 0.0, 1.0) * T_src_t[:3, 3:4]
    uv = K @ p
    us, vs = uv[0] / uv[2], uv[1] / uv[2]
    valid = (uv[2] > 0.1) & (us >= 0) & (us < w - 1) & (vs >= 0) & (vs < h - 1)
    if depth_src is not None:
        ds = np.zeros(h * w)
        ds[valid] = depth_src[np.round(vs[valid]).astype(int), np.round(us[valid]).astype(int)]
        same = np.where(far, ds <= 0, np.abs(ds - uv[2]) < 0.03 * np.abs(uv[2]))
        valid &= same
    warped = np.zeros((h * w, 3))
    warped[valid] = _bilinear(src, us[valid], vs[valid])
    return warped.reshape(h, w, 3), valid.reshape(h, w)


@pytest.fixture(scope='module')
def nusc(synthetic_world):
    from nuscenes import NuScenes
    return NuScenes('v1.0-mini', str(synthetic_world.nuscenes), verbose=False)


def test_warping_next_frame_with_true_depth_and_pose(nusc, synthetic_world):
    warped_err, plain_err, covisible = [], [], []
    for scene in nusc.scene:
        sample = nusc.get('sample', scene['first_sample_token'])
        for cam in ('CAM_FRONT', 'CAM_BACK', 'CAM_FRONT_LEFT'):
            sd_t = nusc.get('sample_data', sample['data'][cam])
            sd_s = nusc.get('sample_data', sd_t['next'])  # the next camera frame (a 12 Hz sweep)
            T = []
            for sd in (sd_t, sd_s):
                cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
                pose = nusc.get('ego_pose', sd['ego_pose_token'])
                T.append(_transform(pose['rotation'], pose['translation']) @ _transform(cs['rotation'],
                                                                                         cs['translation']))
            T_src_t = np.linalg.inv(T[1]) @ T[0]
            assert np.linalg.norm(T_src_t[:3, 3]) > 0.2  # the ego moved
            img_t = np.asarray(Image.open(nusc.get_sample_data_path(sd_t['token'])), np.float64) / 255
            img_s = np.asarray(Image.open(nusc.get_sample_data_path(sd_s['token'])), np.float64) / 255
            depth_t, depth_s = (load_depth_png(synthetic_world.nuscenes / 'depth' / sd['filename'].replace(
                '.jpg', '.png')) for sd in (sd_t, sd_s))
            K = np.array(cs['camera_intrinsic'])
            warped, valid = warp_into_target(img_s, depth_t, K, T_src_t, depth_s)
            inside = warp_into_target(img_s, depth_t, K, T_src_t)[1]
            covisible.append(valid.sum() / inside.sum())
            warped_err.append(np.abs(warped - img_t).mean(-1)[valid])
            plain_err.append(np.abs(img_s - img_t).mean(-1)[valid])
    warped_mean = np.concatenate(warped_err).mean()
    plain_mean = np.concatenate(plain_err).mean()
    assert plain_mean > 0.02  # there is motion to explain
    assert np.mean(covisible) > 0.7, np.mean(covisible)  # a wrong pose or depth would fail the depth check
    assert warped_mean < 0.3 * plain_mean, (warped_mean, plain_mean)
