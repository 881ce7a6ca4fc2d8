"""The bad-input handlers replaced by what the code did before them (test code only; never imported otherwise).

``HDB_BAD_INPUT_HANDLING=removed pytest tests/tools/test_bad_inputs.py`` runs the matrix with every handler group
below replaced by its raw equivalent (``torch.load``, ``mmengine.load``, ``json.loads``, no check), in the test
process and, through a ``sitecustomize`` put first on ``PYTHONPATH``, in the tools run as subprocesses. Each case
should then fail; ``tools/`` and ``hybrid_depth/`` are not touched.

Groups: checkpoint reading (``load_torch_file``), checkpoint fit (``check_checkpoint_fits``), exported backbone
files (``load_exported_weights``), info files (``read_info_file`` + ``check_nuscenes_infos``), nuScenes tables
(``create_data.check_nuscenes``, ``check_nuscenes_tables``), KITTI calibration (``read_kitti_calib``,
``calib_entry``) and split (``KittiRawDepthDataset._read_split``), TuSimple label lines (``parse_label_line``),
zoo checksums (``verify_sha256``); with ``removed-all`` also the tools' one-line catch (``DATA_ERRORS`` emptied,
so any error is a traceback). Inline checks (a tool's own ``isfile`` test, TuSimple's empty-file test) stay.
"""
from __future__ import annotations

import fnmatch
import json
import os
import sys
from pathlib import Path
from types import ModuleType

ENV = 'HDB_BAD_INPUT_HANDLING'
ACTIVE = os.environ.get(ENV) in ('removed', 'removed-all')
CATCH = os.environ.get(ENV) == 'removed-all'  # also the tools' one-line catch (``except DATA_ERRORS``)


def _raw_load_torch_file(path, what='checkpoint', **kwargs):
    import torch
    return torch.load(os.fspath(path), map_location='cpu', **kwargs)


def _raw_load_exported_weights(module, path, prefix, ignore=()):
    import torch
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt)
    selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)
                and not any(fnmatch.fnmatchcase(k[len(prefix):], p) for p in ignore)}
    return list(module.load_state_dict(selected, strict=False).missing_keys)


def _raw_read_info_file(path):
    import mmengine
    return mmengine.load(path, file_format='pkl')


def _raw_read_kitti_calib(path):
    import numpy as np
    data = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(':')
        try:
            data[key.strip()] = np.array([float(x) for x in value.split()])
        except ValueError:
            pass
    return data


def _raw_read_split(self):
    return [(p[0], int(p[1]), p[2]) for p in (line.split() for line in Path(self.ann_file).read_text().splitlines())
            if p]


def _nothing(*args, **kwargs) -> None:
    return None


def _replacements() -> dict[tuple[str, str], object]:
    """``{(module, attribute): raw replacement}``; a class attribute is ``'Class.method'``."""
    return {
        ('hybrid_depth.utils.checkpoint', 'load_torch_file'): _raw_load_torch_file,
        ('hybrid_depth.engine.runner', 'check_checkpoint_fits'): _nothing,
        ('hybrid_depth.models.backbones.weights', 'load_exported_weights'): _raw_load_exported_weights,
        ('projects.BEVDet.bevdet.info_contract', 'read_info_file'): _raw_read_info_file,
        ('projects.BEVDet.bevdet.info_contract', 'check_nuscenes_infos'): _nothing,
        ('projects.BEVDet.bevdet.nuscenes_metric', 'check_nuscenes_tables'): _nothing,
        ('hybrid_depth.datasets.kitti_raw', 'read_kitti_calib'): _raw_read_kitti_calib,
        ('hybrid_depth.datasets.kitti_raw', 'calib_entry'): lambda calib, key, size, path: calib[key],
        ('hybrid_depth.datasets.kitti_raw', 'KittiRawDepthDataset._read_split'): _raw_read_split,
        ('hybrid_depth.datasets.tusimple_lanes', 'parse_label_line'): lambda line, where: json.loads(line),
        ('hybrid_depth.utils.checksum', 'verify_sha256'): _nothing,
        **({('hybrid_depth.engine.cli', 'DATA_ERRORS'): ()} if CATCH else {}),
    }


def apply() -> None:
    """Replace every handler, in its module and wherever it was imported by name."""
    import importlib
    originals = {}
    for (mod_name, attr), raw in _replacements().items():
        owner = importlib.import_module(mod_name)
        *cls, name = attr.split('.')
        if cls:
            owner = getattr(owner, cls[0])
        originals[id(getattr(owner, name))] = raw
        setattr(owner, name, raw)
    for module in list(sys.modules.values()):
        patch_module(module, originals)


def patch_module(module: ModuleType, originals: dict[int, object] | None = None) -> None:
    """Point ``module``'s names bound to an original handler at the raw one (a tool loaded by path: its own
    ``check_nuscenes`` too)."""
    if originals is None:
        originals = {}
        if hasattr(module, 'check_nuscenes'):
            module.check_nuscenes = _nothing
    for name, value in list(vars(module).items()):
        if id(value) in originals:
            setattr(module, name, originals[id(value)])


def sitecustomize_dir(tmp: Path) -> Path:
    """A folder whose ``sitecustomize.py`` calls :func:`apply` when a subprocess starts."""
    folder = tmp / 'handling_removed_site'
    folder.mkdir(exist_ok=True)
    (folder / 'sitecustomize.py').write_text('from tests.tools.handling_removed import apply\napply()\n')
    return folder
