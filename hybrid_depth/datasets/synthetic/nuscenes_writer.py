"""Write the synthetic world as a nuScenes ``v1.0-mini`` dataset (13 tables, 6 cameras, LIDAR_TOP, maps).

Layout under ``root``::

    v1.0-mini/{attribute,calibrated_sensor,category,ego_pose,instance,log,map,sample,sample_annotation,
               sample_data,scene,sensor,visibility}.json
    samples/CAM_*/<log>__CAM_*__<us>.jpg          keyframe images (2 Hz), each at its camera's trigger time
    sweeps/CAM_*/<log>__CAM_*__<us>.jpg           camera sweeps between keyframes (12 Hz spacing)
    samples/LIDAR_TOP/<log>__LIDAR_TOP__<us>.pcd.bin   (N, 5) float32 x, y, z, intensity, ring (lidar frame
                                                  at the end of the revolution = the sample timestamp)
    maps/<token>.png                              road raster per map location (1 px = 1 m, global frame)
    depth/{samples,sweeps}/CAM_*/<name>.png       exact depth of every camera frame, uint16 = metres * 256
                                                  (camera z at pixel centres, 0 = sky; not part of nuScenes)

Frames and conventions are the real ones: ``ego_pose`` is ego -> global, ``calibrated_sensor`` sensor -> ego,
quaternions (w, x, y, z), translations in metres, timestamps in microseconds, box ``size`` (w, l, h) and
``rotation`` about global z. Each scene is its own world (road frame) placed in the global frame by a
scene-specific yaw and offset.

Timing (:mod:`.sensor_timing`): the sample timestamp is the end of the 50 ms LIDAR_TOP revolution; every
camera is rendered at its own trigger time (where the beam crosses its optical axis, 0.5-43 ms earlier) with
the ego and the objects where they are then, and gets its own ``ego_pose``. The LiDAR casts each firing from
the pose at its firing time; points are written motion-compensated into the LiDAR frame at the revolution end.
The ego drives at U(4, 15) m/s and weaves in its lane (yaw rates up to ~0.3 rad/s).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .camera_rig import Camera, nuscenes_cameras, nuscenes_lidar
from .classes import (
    CLASS_INDEX,
    NUSCENES_ATTRIBUTES,
    NUSCENES_CATEGORIES,
    NUSCENES_VISIBILITY,
    OBJECT_CLASSES,
)
from .output import dump_json, pool_context, save_depth_png, save_jpeg, token
from .presets import NuScenesConfig
from .renderer import render_camera, render_lidar_sweep
from .sensor_timing import camera_trigger_offset, time_before_end
from .transforms import make_transform, quat_from_matrix, rot_z
from .world import ROAD_HALF_WIDTH, SIDEWALK_OUTER, make_world

__all__ = ['MINI_TRAIN', 'MINI_VAL', 'MINI_SCENES', 'write_nuscenes', 'KEYFRAME_US', 'SWEEP_US', 'EGO_SPEED_RANGE',
           'EGO_MAX_WEAVE']

MINI_TRAIN = ('scene-0061', 'scene-0553', 'scene-0655', 'scene-0757', 'scene-0796', 'scene-1077',
              'scene-1094', 'scene-1100')
MINI_VAL = ('scene-0103', 'scene-0916')
MINI_SCENES = tuple(sorted(MINI_TRAIN + MINI_VAL))
KEYFRAME_US = 500_000
SWEEP_US = 83_333  # 12 Hz camera
ANNOTATION_RANGE = 80.0  # metres from the ego within which objects are annotated
EGO_SPEED_RANGE = (4.0, 15.0)  # m/s, city to arterial speeds
EGO_MAX_WEAVE = 0.7  # m, largest lateral weave in the ego lane (yaw rates up to ~0.3 rad/s)

_LOCATIONS = (('singapore-onenorth', 'n015', 8), ('boston-seaport', 'n008', -4))
_VISIBILITY_BINS = np.array([0.4, 0.6, 0.8])
_SCENE_TABLES = ('log', 'calibrated_sensor', 'sample', 'scene', 'ego_pose', 'sample_data', 'sample_annotation',
                 'instance')


def _scene_log(seed: int, i: int) -> dict:
    """Location, log file name and start time (microseconds) of scene ``i``."""
    location, vehicle, tz = _LOCATIONS[i % 2]
    start = dt.datetime(2018, 7, 24 + i // 2, 10 + i % 7, 3 * i % 60, 17 + i, tzinfo=dt.timezone(
        dt.timedelta(hours=tz)))
    stamp = start.strftime('%Y-%m-%d-%H-%M-%S') + f'{"+" if tz >= 0 else "-"}{abs(tz):02d}00'
    return {'location': location, 'vehicle': vehicle, 'logfile': f'{vehicle}-{stamp}',
                'date': start.strftime('%Y-%m-%d'),
                'start_us': int(start.timestamp()) * 1_000_000 + 412_345 * (i + 1)}


def _scene_placement(seed: int, i: int) -> np.ndarray:
    """(4, 4) road -> global transform of scene ``i`` (yaw and offset in a 2 km map)."""
    rng = np.random.default_rng([seed, i, 17])
    yaw = rng.uniform(-np.pi, np.pi)
    return make_transform(rot_z(yaw), np.array([400.0 + 150.0 * (i // 2), 600.0 + 110.0 * (i % 5), 0.0]))


def _sensor_setup(cfg: NuScenesConfig, seed: int) -> dict:
    """Per-call constants shared by all scenes: sensors, their trigger offsets and the table tokens."""
    cams = nuscenes_cameras(cfg.scale)
    lidar = nuscenes_lidar(cfg.lidar_azimuth)
    az = np.arange(lidar.n_azimuth) * (2 * np.pi / lidar.n_azimuth)  # lidar-frame azimuth of each column
    return {
        'cams': cams, 'lidar': lidar,
        'cat_token': {name: token(seed, 'category', name) for name, _ in NUSCENES_CATEGORIES},
        'attr_token': {name: token(seed, 'attribute', name) for name, _ in NUSCENES_ATTRIBUTES},
        'sensor_token': {s.name: token(seed, 'sensor', s.name) for s in [*cams, lidar]},
        'cam_offset_us': {c.name: int(round(camera_trigger_offset(c.T_ego_cam) * 1e6)) for c in cams},
        'lidar_dt': time_before_end(az + np.arctan2(lidar.T_ego_lidar[1, 0], lidar.T_ego_lidar[0, 0]))}


def _write_scene(root: Path, cfg: NuScenesConfig, seed: int, i: int, scene_name: str,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Render scene ``i`` (files under ``root``) and return its rows; touches no shared state.

    Returns:
        ``tables`` (table name -> this scene's rows, in write order), ``placement`` (``(T_global_road, world)``),
        ``location``, ``log_token`` and ``frames`` (camera frames rendered).
    """
    setup = _sensor_setup(cfg, seed)
    cams, lidar, lidar_dt = setup['cams'], setup['lidar'], setup['lidar_dt']
    cat_token, attr_token = setup['cat_token'], setup['attr_token']
    sensor_token, cam_offset_us = setup['sensor_token'], setup['cam_offset_us']
    tables: dict[str, list] = {k: [] for k in _SCENE_TABLES}
    frames = 0
    wseed = int(token(seed, 'world', scene_name)[:8], 16)
    duration = (cfg.keyframes - 1) * KEYFRAME_US / 1e6
    world = make_world(wseed, duration, speed_range=EGO_SPEED_RANGE, max_weave=EGO_MAX_WEAVE)
    T_global_road = _scene_placement(seed, i)
    log = _scene_log(seed, i)
    log_tok = token(seed, 'log', scene_name)
    tables['log'].append({'token': log_tok, 'logfile': log['logfile'], 'vehicle': log['vehicle'],
                              'date_captured': log['date'], 'location': log['location']})
    scene_tok = token(seed, 'scene', scene_name)
    cs_tok = {}
    for sensor in [*cams, lidar]:
        is_cam = isinstance(sensor, Camera)
        T = sensor.T_ego_cam if is_cam else sensor.T_ego_lidar
        cs_tok[sensor.name] = token(seed, 'calibrated_sensor', scene_name, sensor.name)
        tables['calibrated_sensor'].append({
            'token': cs_tok[sensor.name], 'sensor_token': sensor_token[sensor.name],
            'translation': [float(v) for v in T[:3, 3]], 'rotation': quat_from_matrix(T[:3, :3]),
            'camera_intrinsic': sensor.K.tolist() if is_cam else []})

    # keyframes every 0.5 s (the LIDAR_TOP timestamps); each camera fires at its trigger offset before
    # them and runs its 12 Hz sweeps after (keyframes but the last)
    key_us = [log['start_us'] + k * KEYFRAME_US for k in range(cfg.keyframes)]
    sample_tok = [token(seed, 'sample', scene_name, k) for k in range(cfg.keyframes)]
    for k in range(cfg.keyframes):
        tables['sample'].append({'token': sample_tok[k], 'timestamp': key_us[k],
                                     'prev': sample_tok[k - 1] if k else '',
                                     'next': sample_tok[k + 1] if k + 1 < cfg.keyframes else '',
                                     'scene_token': scene_tok})
    tables['scene'].append({'token': scene_tok, 'log_token': log_tok, 'nbr_samples': cfg.keyframes,
                                'first_sample_token': sample_tok[0], 'last_sample_token': sample_tok[-1],
                                'name': scene_name, 'description': f'Synthetic drive, seed {wseed}, '
                                f'{world.ego_speed:.1f} m/s, weaving {world.weave[0]:.2f} m in its lane, '
                                'straight 4-lane road'})

    sd_rows: dict[str, list] = {s.name: [] for s in [*cams, lidar]}
    ann_rows: dict[int, list] = {}  # object uid -> (observed, annotation) in time order
    for key, ts_key in enumerate(key_us):
        n_static = len(world.static)
        vis_pix = np.zeros(len(world.objects))
        all_pix = np.zeros(len(world.objects))
        for cam in cams:
            # the keyframe image at the camera's trigger time, then its 12 Hz sweeps (next sample's)
            ts_cam = ts_key + cam_offset_us[cam.name]
            cam_frames = [(ts_cam, True, key)]
            if key + 1 < cfg.keyframes:
                cam_frames += [(ts_cam + (j + 1) * SWEEP_US, False, key + 1) for j in range(cfg.cam_sweeps)]
            for ts, is_key, sample_idx in cam_frames:
                t = (ts - key_us[0]) / 1e6
                T_road_ego = world.ego_pose(t)
                boxes = world.boxes_at(t)
                r = render_camera(world, boxes, T_road_ego @ cam.T_ego_cam, cam)
                folder = 'samples' if is_key else 'sweeps'
                fname = f'{folder}/{cam.name}/{log["logfile"]}__{cam.name}__{ts}.jpg'
                save_jpeg(root / fname, r.rgb)
                if cfg.depth_maps:
                    save_depth_png(root / 'depth' / fname.replace('.jpg', '.png'), r.depth)
                if is_key:
                    counts = np.bincount(r.hit.ravel() + 1, minlength=len(boxes) + 2)[2:]
                    vis_pix += counts[n_static:]
                    all_pix += r.unoccluded[n_static:]
                sd_rows[cam.name].append((ts, is_key, sample_idx, fname, cam.height, cam.width,
                                          T_global_road @ T_road_ego))
                frames += 1
                if progress:
                    progress(1)
        # LIDAR_TOP: the revolution ending at the sample timestamp, compensated to its end (as nuScenes)
        t = (ts_key - key_us[0]) / 1e6
        T_road_ego = world.ego_pose(t)
        T_global_ego = T_global_road @ T_road_ego
        scan = render_lidar_sweep(world, lidar, t, lidar_dt)
        fname = f'samples/{lidar.name}/{log["logfile"]}__{lidar.name}__{ts_key}.pcd.bin'
        (root / fname).parent.mkdir(parents=True, exist_ok=True)
        scan.points.astype(np.float32).tofile(root / fname)
        sd_rows[lidar.name].append((ts_key, True, key, fname, 0, 0, T_global_ego))
        n_pts = np.bincount(scan.hit, minlength=len(boxes) + 1)[1 + n_static:]
        ego_xy = T_road_ego[:2, 3]
        for j, obj in enumerate(world.objects):
            c = obj.center(t)
            if np.linalg.norm(c[:2] - ego_xy) > ANNOTATION_RANGE:
                continue
            frac = vis_pix[j] / all_pix[j] if all_pix[j] > 0 else 0.0
            vis = str(int(np.searchsorted(_VISIBILITY_BINS, frac, side='right')) + 1)
            g = T_global_road @ np.append(c, 1.0)
            yaw = obj.yaw + np.arctan2(T_global_road[1, 0], T_global_road[0, 0])
            observed = n_pts[j] > 0 or vis_pix[j] > 0
            ann_rows.setdefault(obj.uid, []).append((observed, {
                'token': token(seed, 'sample_annotation', scene_name, obj.uid, key),
                'sample_token': sample_tok[key],
                'instance_token': token(seed, 'instance', scene_name, obj.uid),
                'visibility_token': vis,
                'attribute_tokens': [attr_token[obj.attribute]] if obj.attribute else [],
                'translation': [float(v) for v in g[:3]],
                'size': [float(obj.size[1]), float(obj.size[0]), float(obj.size[2])],
                'rotation': quat_from_matrix(rot_z(yaw)), 'prev': '', 'next': '',
                'num_lidar_pts': int(n_pts[j]), 'num_radar_pts': 0}))

    for ch, rows in sd_rows.items():
        toks = [token(seed, 'sample_data', scene_name, ch, r[0]) for r in rows]
        for n, (ts, is_key, sample_idx, fname, h, w, T_ge) in enumerate(rows):
            pose_tok = token(seed, 'ego_pose', scene_name, ch, ts)
            tables['ego_pose'].append({'token': pose_tok, 'timestamp': ts, 'rotation': quat_from_matrix(
                T_ge[:3, :3]), 'translation': [float(v) for v in T_ge[:3, 3]]})
            tables['sample_data'].append({
                'token': toks[n], 'sample_token': sample_tok[sample_idx], 'ego_pose_token': pose_tok,
                'calibrated_sensor_token': cs_tok[ch], 'timestamp': ts,
                'fileformat': 'jpg' if fname.endswith('.jpg') else 'pcd', 'is_key_frame': bool(is_key),
                'height': h, 'width': w, 'filename': fname, 'prev': toks[n - 1] if n else '',
                'next': toks[n + 1] if n + 1 < len(toks) else ''})
    for uid in sorted(ann_rows):
        # an instance spans its first to last keyframe seen by the LiDAR or a camera (never seen: dropped)
        seen = [n for n, (observed, _) in enumerate(ann_rows[uid]) if observed]
        if not seen:
            continue
        anns = [a for _, a in ann_rows[uid][seen[0]:seen[-1] + 1]]
        for n, a in enumerate(anns):
            a['prev'] = anns[n - 1]['token'] if n else ''
            a['next'] = anns[n + 1]['token'] if n + 1 < len(anns) else ''
        tables['sample_annotation'] += anns
        obj = world.objects[uid]
        tables['instance'].append({
            'token': anns[0]['instance_token'],
            'category_token': cat_token[OBJECT_CLASSES[CLASS_INDEX[obj.class_name]].category],
            'nbr_annotations': len(anns), 'first_annotation_token': anns[0]['token'],
            'last_annotation_token': anns[-1]['token']})

    return {'tables': tables, 'placement': (T_global_road, world), 'location': log['location'],
            'log_token': log_tok, 'frames': frames}


def _write_scene_star(args: tuple) -> dict:
    """:func:`_write_scene` on one argument tuple (for ``Pool.imap``)."""
    return _write_scene(*args)


def _collect(results: Iterable[dict], tables: dict[str, list], map_logs: dict[str, list], placements: dict,
             progress: Callable[[int], None] | None) -> None:
    """Append each scene's rows (in ``MINI_SCENES`` order) to the shared tables."""
    for scene_name, res in zip(MINI_SCENES, results):
        for name, rows in res['tables'].items():
            tables[name] += rows
        placements[scene_name] = res['placement']
        map_logs[res['location']].append(res['log_token'])
        if progress:
            progress(res['frames'])


def write_nuscenes(root: Path, cfg: NuScenesConfig, seed: int,
                   progress: Callable[[int], None] | None = None, workers: int = 1) -> dict:
    """Render and write the 10 mini scenes.

    Args:
        root: output folder (the nuScenes ``dataroot``).
        cfg: writer settings.
        seed: world seed; scene ``i`` uses world seed ``hash(seed, i)``.
        progress: optional callback, called with the number of camera frames rendered (1 per frame when
            ``workers == 1``, one call per finished scene otherwise).
        workers: scenes rendered in parallel processes; 1 renders in this process. Files are identical.

    Returns:
        Summary counts (``samples``, ``sample_data``, ``annotations``, ``instances``).
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    root = Path(root)
    version = 'v1.0-mini'
    setup = _sensor_setup(cfg, seed)
    cams, lidar = setup['cams'], setup['lidar']
    cat_token, attr_token, sensor_token = setup['cat_token'], setup['attr_token'], setup['sensor_token']
    tables: dict[str, list] = {k: [] for k in (
        'attribute', 'calibrated_sensor', 'category', 'ego_pose', 'instance', 'log', 'map', 'sample',
        'sample_annotation', 'sample_data', 'scene', 'sensor', 'visibility')}
    tables['category'] = [{'token': cat_token[n], 'name': n, 'description': d}
                          for n, d in NUSCENES_CATEGORIES]
    tables['attribute'] = [{'token': attr_token[n], 'name': n, 'description': d}
                           for n, d in NUSCENES_ATTRIBUTES]
    tables['visibility'] = [{'token': t, 'level': lv, 'description': d} for t, lv, d in NUSCENES_VISIBILITY]
    sensors = [(c.name, 'camera') for c in cams] + [(lidar.name, 'lidar')]
    tables['sensor'] = [{'token': sensor_token[ch], 'channel': ch, 'modality': m} for ch, m in sensors]
    map_logs: dict[str, list] = {loc: [] for loc, _, _ in _LOCATIONS}
    placements = {}

    jobs = [(root, cfg, seed, i, name) for i, name in enumerate(MINI_SCENES)]
    if workers == 1:
        results = (_write_scene(*job, progress=progress) for job in jobs)
        _collect(results, tables, map_logs, placements, None)
    else:
        ctx = pool_context()
        with ctx.Pool(min(workers, len(jobs))) as pool:
            # imap keeps scene order, so the tables are concatenated exactly as in the serial path
            _collect(pool.imap(_write_scene_star, jobs), tables, map_logs, placements, progress)

    for loc, logs in map_logs.items():
        map_tok = token(seed, 'map', loc)
        fname = f'maps/{map_tok}.png'
        _write_map(root / fname,
                   [placements[s] for i, s in enumerate(MINI_SCENES) if _LOCATIONS[i % 2][0] == loc])
        tables['map'].append({'token': map_tok, 'log_tokens': logs, 'category': 'semantic_prior',
                              'filename': fname})

    for name, rows in tables.items():
        dump_json(root / version / f'{name}.json', rows)
    return {'samples': len(tables['sample']), 'sample_data': len(tables['sample_data']),
                'annotations': len(tables['sample_annotation']), 'instances': len(tables['instance'])}


def _write_map(path: Path, scenes: list, size: int = 2000) -> None:
    """Rasterise the roads (255) and sidewalks (128) of ``scenes`` in the global frame, 1 px = 1 m.

    Row 0 of the PNG is the northern edge (global y = ``size``), column 0 is global x = 0.
    """
    img = np.zeros((size, size), np.uint8)
    for T_global_road, world in scenes:
        x0, x1 = world.extent
        corners = np.array([[x, y, 0.0, 1.0] for x in (x0, x1) for y in (-SIDEWALK_OUTER, SIDEWALK_OUTER)])
        g = corners @ T_global_road.T  # (4, 4) global corners of the scene's road strip
        c0, c1 = (np.clip(np.floor(g[:, 0].min()), 0, size).astype(int),
                  np.clip(np.ceil(g[:, 0].max()), 0, size).astype(int))
        r0, r1 = (np.clip(np.floor(g[:, 1].min()), 0, size).astype(int),
                  np.clip(np.ceil(g[:, 1].max()), 0, size).astype(int))
        ys, xs = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5  # global y, x of pixel centres
        inv = np.linalg.inv(T_global_road)
        rx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 3]
        ry = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 3]
        along = (rx > x0) & (rx < x1)
        patch = img[r0:r1, c0:c1]
        patch[along & (np.abs(ry) <= SIDEWALK_OUTER) & (patch < 128)] = 128
        patch[along & (np.abs(ry) <= ROAD_HALF_WIDTH)] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img[::-1]).save(path, format='PNG')
