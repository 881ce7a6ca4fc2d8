"""The synthetic world's KITTI odometry layout: its poses are the rendered camera motion, its frames the raw ones."""
from __future__ import annotations

import cv2
import numpy as np

from hybrid_depth.datasets.kitti_odom import read_kitti_poses
from hybrid_depth.datasets.synthetic import get_preset, make_world
from hybrid_depth.datasets.synthetic.camera_rig import kitti_cameras
from hybrid_depth.datasets.synthetic.kitti_writer import FPS, KITTI_DATE
from hybrid_depth.datasets.synthetic.output import token
from hybrid_depth.evaluation import relative_poses


def _sequences(world) -> dict:
    import json
    return json.loads((world.root / 'synthetic_meta.json').read_text())['counts']['kitti_odom']['sequences']


def test_poses_are_the_rendered_camera_motion(synthetic_world):
    """poses/XX.txt (made from the OXTS packets and calib files) against the renderer's own ego poses and cam0
    extrinsics: every pose T_cam0first_cam0, and every relative pose T_{i+1, i} = inv(T_road_cam(i+1)) T_road_cam(i)
    (the transform view synthesis warps frame i into frame i + 1 with)."""
    cfg = get_preset('tiny').kitti
    T_ego_cam0 = kitti_cameras(cfg.scale)['image_00'].T_ego_cam
    seqs = _sequences(synthetic_world)
    assert list(seqs) == ['09'] and seqs['09'].startswith(KITTI_DATE)
    for seq, folder in seqs.items():
        drive = folder.split('/')[1]
        # the world of this drive, as kitti_writer._write_drive builds it
        world = make_world(int(token(0, 'kitti', drive)[:8], 16), cfg.frames / FPS)
        cams = np.stack([world.ego_pose(f / FPS) @ T_ego_cam0 for f in range(cfg.frames)])  # T_road_cam0
        poses = read_kitti_poses(str(synthetic_world.kitti_odom / 'poses' / f'{seq}.txt'))
        assert poses.shape == (cfg.frames, 4, 4)
        np.testing.assert_allclose(poses, np.linalg.inv(cams[0]) @ cams, atol=1e-3)  # measured 5e-4 (Mercator scale)
        expected = np.linalg.inv(cams[1:]) @ cams[:-1]
        np.testing.assert_allclose(relative_poses(poses), expected, atol=5e-4)  # measured 1.7e-4
        # the camera moves ahead (+z, 0.4-0.9 m per frame at 4-9 m/s): the comparison is not between identities
        steps = -relative_poses(poses)[:, 2, 3]
        assert np.all(steps > 0.35), steps


def test_layout_is_kitti_odometry(synthetic_world):
    """image_2/3 PNGs decode to the raw image_02/03 JPEG pixels; calib.txt P2 = P_rect_02; times at 10 Hz; split
    lines "9 i l" for every pair."""
    odom, raw = synthetic_world.kitti_odom, synthetic_world.kitti
    folder = _sequences(synthetic_world)['09']
    n = len(list((raw / folder / 'image_02' / 'data').glob('*.jpg')))
    for raw_cam, cam in (('image_02', 'image_2'), ('image_03', 'image_3')):
        pngs = sorted((odom / 'sequences' / '09' / cam).glob('*.png'))
        assert [p.name for p in pngs] == [f'{i:06d}.png' for i in range(n)]
        np.testing.assert_array_equal(cv2.imread(str(pngs[-1])),
                                      cv2.imread(str(raw / folder / raw_cam / 'data' / f'{n - 1:010d}.jpg')))
    calib = dict(line.split(':', 1) for line in (odom / 'sequences' / '09' / 'calib.txt').read_text().splitlines())
    assert sorted(calib) == ['P0', 'P1', 'P2', 'P3', 'Tr']
    raw_calib = dict(line.split(':', 1) for line in (raw / KITTI_DATE / 'calib_cam_to_cam.txt').read_text()
                     .splitlines())
    np.testing.assert_allclose(np.fromstring(calib['P2'], sep=' '), np.fromstring(raw_calib['P_rect_02'], sep=' '))
    np.testing.assert_allclose(np.loadtxt(odom / 'sequences' / '09' / 'times.txt'), np.arange(n) / FPS, atol=1e-6)
    lines = (odom / 'splits' / 'odom' / 'test_files_09.txt').read_text().splitlines()
    assert lines == [f'9 {i} l' for i in range(n - 1)]


def test_relative_pose_warps_the_next_frame_into_this_one(synthetic_world):
    """The convention checked on pixels: T_{i+1, i} from poses/09.txt, with frame i's velodyne depth (cam2 z) and
    the training warp (``view_synthesis(I_{i+1}, D_i, K, T_src_tgt)``), rebuilds image_2 frame i at the velodyne
    pixels far better than the inverse pose or no warp (cam2 moves as cam0: the rig only translates them)."""
    import torch

    from hybrid_depth.datasets.kitti_raw import kitti_normalised_intrinsics, read_kitti_calib
    from hybrid_depth.datasets.synthetic.kitti_writer import kitti_depth_map
    from hybrid_depth.geometry import view_synthesis
    odom, raw = synthetic_world.kitti_odom, synthetic_world.kitti
    folder = _sequences(synthetic_world)['09']
    rel = relative_poses(read_kitti_poses(str(odom / 'poses' / '09.txt')))
    errs = {'pose': [], 'inverse': [], 'none': []}
    for i in range(len(rel)):
        tgt, src = (cv2.imread(str(odom / 'sequences' / '09' / 'image_2' / f'{f:06d}.png'))[..., ::-1] / 255.0
                    for f in (i, i + 1))
        h, w = tgt.shape[:2]
        velo = np.fromfile(raw / folder / 'velodyne_points' / 'data' / f'{i:010d}.bin', np.float32).reshape(-1, 4)
        depth = kitti_depth_map(raw / KITTI_DATE, velo, cam=2, vel_depth=False)
        valid = (depth > 1) & (depth < 40)
        valid[:, :w // 8] = valid[:, -w // 8:] = False  # pixels that leave the image when moving ahead
        K = kitti_normalised_intrinsics(read_kitti_calib(str(raw / KITTI_DATE / 'calib_cam_to_cam.txt')), 'image_02')
        K = torch.from_numpy(K * np.array([[w], [h], [1.0]], np.float32))[None]
        src_t = torch.from_numpy(np.ascontiguousarray(src.transpose(2, 0, 1)))[None].float()
        depth_t = torch.from_numpy(depth)[None, None]
        for name, T in (('pose', rel[i]), ('inverse', np.linalg.inv(rel[i])), ('none', np.eye(4))):
            warped = view_synthesis(src_t, depth_t, K, torch.from_numpy(T).float()[None])[0][0].numpy()
            errs[name].append(np.abs(warped.transpose(1, 2, 0) - tgt).mean(-1)[valid])
    err = {k: float(np.concatenate(v).mean()) for k, v in errs.items()}
    assert err['none'] > 0.02, err  # there is motion to explain
    assert err['pose'] < 0.5 * err['none'] and err['pose'] < 0.5 * err['inverse'], err
