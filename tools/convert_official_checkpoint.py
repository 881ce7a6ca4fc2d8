#!/usr/bin/env python
"""Convert the authors' released Hybrid-depth weights (Hugging Face ``WenyaoZhang/Hybrid-depth``) to this project.

Inputs (local files; nothing is downloaded):

- ``--stage2 DIR``: the Stage-2 ``checkpoints/`` folder (Monodepth2-style ``encoder.pth``, ``depth.pth``,
  ``pose_encoder.pth``, ``pose.pth``; the pose files are optional).
- ``--stage1 FILE``: ``stage1_checkpoint/stage1.ckpt`` (PyTorch Lightning).

Outputs (in ``--out-dir``, each written to a temporary name and renamed; on any error nothing is written):

- ``hybrid_depth_fine_official.pth`` (from ``--stage2``): an mmengine checkpoint of ``HybridFineDepthEstimator``
  for ``configs/hybrid_depth/fine_kitti_released.py`` (``tools/test.py configs/hybrid_depth/fine_kitti_released.py
  FILE``);
- ``hybrid_depth_bev_official.pth`` (from ``--stage2``): the ``tools/export_backbone.py`` format (``backbone.*``,
  ``depth_branch.prompt_bank.*``, ``depth_branch.decoder.*``) for ``HybridDepthBackbone`` / ``HybridLSSDepthNet``
  (``configs/bevdet_hybrid.py`` and ``configs/fbbev_hybrid.py``: ``--cfg-options hybrid_checkpoint=FILE`` or the
  ``checkpoint`` keys);
- ``hybrid_depth_coarse_official.pth`` (from ``--stage1``): an mmengine checkpoint of ``HybridCoarseDepthEstimator``
  (``load_from`` of ``configs/hybrid_depth/fine_kitti.py``, to train Stage 2 yourself).

BEVDet mode (``--bevdet FILE --bevdet-layout bevdet-r50|bevdet-r50-cbgs|bevdet-r50-4d-depth-cbgs``): a released
BEVDet dev2.0 checkpoint -> ``bevdet_official.pth``, an mmengine checkpoint of our ``BEVDet`` for ``--bevdet-config``
(default ``configs/bevdet_r50.py``; heatmap rows reordered to mmdet3d's class order; see
``projects/BEVDet/bevdet/official_checkpoint.py``). The temporal ``bevdet-r50-4d-depth-cbgs`` converts with
``--bevdet-parts image`` only (its image branch, into a config with the same image branch).

Every official key is mapped (see ``hybrid_depth/models/official_checkpoint.py``) except the parameters no forward
uses, which are dropped by name and counted. An unknown key, a model key left without a value or a shape mismatch
stops the conversion with one error listing them all (exit code 1).

Example:
    python tools/convert_official_checkpoint.py --stage2 weights/Hybrid-depth/checkpoints \\
        --stage1 weights/Hybrid-depth/stage1_checkpoint/stage1.ckpt --out-dir work_dirs/official
"""
from __future__ import annotations

import argparse
import os.path as osp
import pickle
import sys
import types

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root

import torch  # noqa: E402

from hybrid_depth.utils.atomic import stale_note  # noqa: E402
from hybrid_depth.utils.checkpoint import CheckpointFileError, load_torch_file  # noqa: E402
from tools.export_backbone import DEFAULT_DROP, DEFAULT_MAPPING, atomic_save, convert_state_dict  # noqa: E402

FINE_CONFIG = 'configs/hybrid_depth/fine_kitti.py'
COARSE_CONFIG = 'configs/hybrid_depth/coarse_tusimple.py'
BEVDET_CONFIG = 'configs/bevdet_r50.py'
OUTPUTS = {'fine': 'hybrid_depth_fine_official.pth', 'bev': 'hybrid_depth_bev_official.pth',
           'coarse': 'hybrid_depth_coarse_official.pth', 'bevdet': 'bevdet_official.pth'}


class _Opaque:
    """Stand-in for classes of a checkpoint's non-tensor entries (e.g. the hyper-parameters of ``stage1.ckpt``)."""

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _Opaque


_lenient_pickle = types.SimpleNamespace(Unpickler=_LenientUnpickler, load=pickle.load, loads=pickle.loads,
                                        __name__='lenient_pickle')


def load_official(path: str) -> dict:
    """``torch.load`` an official file on CPU: tensors-only first; Lightning files (whose hyper-parameters are
    pickled objects of the official code) with a full unpickler in which unknown classes become placeholders."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'official checkpoint not found: {path}')
    try:
        return load_torch_file(path, 'official checkpoint', weights_only=True)
    except CheckpointFileError as err:
        if 'Unsupported global' not in str(err.__cause__):  # only a Lightning file's objects get a 2nd try
            raise
        return load_torch_file(path, 'official checkpoint', weights_only=False, pickle_module=_lenient_pickle)


def expected_shapes(config: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of the model of ``config``, built without any pretrained weights (random init)."""
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hybrid_depth.models  # noqa: F401  (registers the models)

    init_default_scope('mmdet3d')
    model_cfg = Config.fromfile(config).model
    for part in ('encoder', 'prompt_bank'):
        if part in model_cfg:
            model_cfg[part]['clip_pretrained'] = None
            if part == 'encoder':
                model_cfg[part]['dino_pretrained'] = None
    if 'pose_net' in model_cfg:
        model_cfg['pose_net']['pretrained'] = None
    model = MODELS.build(model_cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert_stage2(folder: str, config: str = FINE_CONFIG) -> tuple[dict, dict]:
    """Stage-2 folder -> (our fine-estimator state dict, summary)."""
    from hybrid_depth.models.official_checkpoint import convert_official_stage2

    if not osp.isdir(folder):
        raise FileNotFoundError(f'Stage-2 folder not found: {folder}')
    files = {}
    for name in ('encoder', 'depth', 'pose_encoder', 'pose'):
        path = osp.join(folder, f'{name}.pth')
        if osp.isfile(path):
            files[name] = load_official(path)
        elif name in ('encoder', 'depth'):
            raise FileNotFoundError(f'{path} is missing (a Stage-2 folder holds encoder.pth and depth.pth)')
    state = convert_official_stage2(files, expected_shapes(config))
    total = sum(1 for sd in files.values() for v in sd.values() if isinstance(v, torch.Tensor))
    return state, {'files': sorted(files), 'official_tensors': total, 'converted': len(state)}


def convert_stage1(path: str, config: str = COARSE_CONFIG) -> tuple[dict, dict]:
    """``stage1.ckpt`` -> (our coarse-estimator state dict, summary)."""
    from hybrid_depth.models.official_checkpoint import convert_official_stage1

    ckpt = load_official(path)
    state_dict = ckpt.get('state_dict') if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict):
        raise KeyError(f'{path}: no "state_dict" (is this a PyTorch Lightning checkpoint?)')
    state = convert_official_stage1(state_dict, expected_shapes(config))
    return state, {'official_tensors': sum(isinstance(v, torch.Tensor) for v in state_dict.values()),
                   'converted': len(state)}


def bevdet_expected_shapes(config: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of the BEVDet model of ``config``, built without loading any weights."""
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import projects.BEVDet.bevdet  # noqa: F401  (registers the models)

    init_default_scope('mmdet3d')
    model = MODELS.build(Config.fromfile(config).model)  # init_cfg is only read by init_weights(): not called
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert_bevdet(path: str, layout: str, config: str = BEVDET_CONFIG, parts: str = 'all') -> tuple[dict, dict]:
    """Released BEVDet checkpoint -> (our ``BEVDet`` state dict, summary)."""
    from projects.BEVDet.bevdet.official_checkpoint import convert_official_bevdet

    ckpt = load_official(path)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict):
        raise KeyError(f'{path}: no "state_dict"')
    state = convert_official_bevdet(state_dict, bevdet_expected_shapes(config), layout, parts=parts)
    return state, {'official_tensors': sum(isinstance(v, torch.Tensor) for v in state_dict.values()),
                   'converted': len(state), 'layout': layout, 'parts': parts}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage2',
                   help='Stage-2 checkpoints/ folder (encoder.pth, depth.pth[, pose_encoder.pth, pose.pth])')
    p.add_argument('--stage1', help='stage1.ckpt (PyTorch Lightning)')
    p.add_argument('--out-dir', required=True, help='output folder')
    p.add_argument('--fine-config', default=FINE_CONFIG, help='config whose model receives the Stage-2 weights')
    p.add_argument('--coarse-config', default=COARSE_CONFIG, help='config whose model receives the Stage-1 weights')
    p.add_argument('--bevdet', help='released BEVDet dev2.0 checkpoint (bevdet-r50*.pth)')
    p.add_argument('--bevdet-layout', default='bevdet-r50',
                   choices=('bevdet-r50', 'bevdet-r50-cbgs', 'bevdet-r50-4d-depth-cbgs'), help='its release')
    p.add_argument('--bevdet-config', default=BEVDET_CONFIG, help='config whose model receives the BEVDet weights')
    p.add_argument('--bevdet-parts', default='all', choices=('all', 'image'),
                   help="'image': only img_backbone, img_neck and img_view_transformer")
    args = p.parse_args(argv)
    if not args.stage2 and not args.stage1 and not args.bevdet:
        p.error('give --stage2, --stage1 and/or --bevdet')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from hybrid_depth.models.official_checkpoint import OfficialCheckpointError

    results = {}
    try:  # convert everything first: nothing is written unless every input converts
        if args.stage2:
            state, info = convert_stage2(args.stage2, args.fine_config)
            meta = {'source': osp.abspath(args.stage2), 'official_stage': 2, **info}
            results['fine'] = {'state_dict': state, 'meta': meta}
            bev, dropped, unmapped = convert_state_dict(state, DEFAULT_MAPPING, DEFAULT_DROP)
            if unmapped:
                raise OfficialCheckpointError(f'export: {len(unmapped)} keys no rule maps: {unmapped[:10]}')
            results['bev'] = {'state_dict': bev, 'meta': {**meta, 'mapping': dict(DEFAULT_MAPPING),
                                                           'dropped': dropped, 'unmapped': []}}
            print(f'Stage 2: {info["official_tensors"]} official tensors in {", ".join(info["files"])} -> '
                  f'{info["converted"]} model tensors ({len(bev)} for the BEV image branch)')
        if args.stage1:
            state, info = convert_stage1(args.stage1, args.coarse_config)
            results['coarse'] = {'state_dict': state,
                                 'meta': {'source': osp.abspath(args.stage1), 'official_stage': 1, **info}}
            print(f'Stage 1: {info["official_tensors"]} official tensors -> {info["converted"]} model tensors')
        if args.bevdet:
            state, info = convert_bevdet(args.bevdet, args.bevdet_layout, args.bevdet_config, args.bevdet_parts)
            results['bevdet'] = {'state_dict': state, 'meta': {'source': osp.abspath(args.bevdet), **info}}
            print(f'BEVDet ({info["layout"]}): {info["official_tensors"]} official tensors -> '
                  f'{info["converted"]} model tensors')
    except (OfficialCheckpointError, FileNotFoundError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except CheckpointFileError as e:  # an official file that cannot be read: one line naming it
        print(f'error: {e}', file=sys.stderr)
        return 2
    for kind, obj in results.items():
        out = osp.join(args.out_dir, OUTPUTS[kind])
        note = stale_note([out])  # temporaries of a killed earlier run (never read)
        if note:
            print(note, file=sys.stderr)
        atomic_save(obj, out)
        print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
