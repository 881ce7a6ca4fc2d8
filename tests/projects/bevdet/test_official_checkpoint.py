"""Official BEVDet checkpoints -> our BEVDet: the key layouts, the class reordering and the converter's contract.

A checkpoint in the official detector layout is made from the recorded official modules' weights
(``tests/fixtures/official_bevdet``, see ``test_official_equivalence.py``), converted by
:func:`projects.BEVDet.bevdet.official_checkpoint.convert_official_bevdet`, loaded into our modules and must give
the recorded official outputs. The released ``bevdet-r50`` layout is checked on ``configs/bevdet_r50.py``'s full
model through the CLI (every key, nothing written on an error).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from projects.BEVDet.bevdet.official_checkpoint import (
    BEVDET_CLASSES,
    MMDET3D_CLASSES,
    convert_official_bevdet,
    official_bevdet_from_ours,
)

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))
import test_official_equivalence as eq  # noqa: E402
from test_official_equivalence import _build_ours, _close, _head_preds, _lss  # noqa: E402


@pytest.fixture(scope='module')
def record():
    """(manifest, recorded arrays, the official weights) as in ``test_official_equivalence.py``."""
    return eq.record.__wrapped__()

# our recorded-module name -> the detector attribute both codes use
PREFIX = {'vt.': 'img_view_transformer.', 'resnet.': 'img_bev_encoder_backbone.', 'fpn.': 'img_bev_encoder_neck.',
          'head.': 'pts_bbox_head.'}


def _rename(state: dict, table: dict[str, str]) -> dict:
    out = {}
    for key, value in state.items():
        src = next(s for s in table if key.startswith(s))
        out[table[src] + key[len(src):]] = value
    return out


def _classes():
    import record_official_bevdet as rec
    return [t['class_names'] for t in rec.TASKS]


def _convert_fixture(weights: dict, official_classes=None) -> torch.nn.ModuleDict:
    """The fixture's official weights as an official detector checkpoint -> converted -> our modules."""
    model = _build_ours()
    expected = {k: tuple(v.shape) for k, v in _rename(model.state_dict(), PREFIX).items()}
    ours = convert_official_bevdet(_rename(weights, PREFIX), expected, 'bevdet-r50-4d-depth-cbgs',
                                   official_classes=official_classes or _classes(), our_classes=_classes())
    model.load_state_dict(_rename(ours, {v: k for k, v in PREFIX.items()}), strict=True)
    return model.eval()


def test_converted_official_checkpoint_gives_the_recorded_outputs(record):
    _, data, weights = record
    model = _convert_fixture(weights)
    _, bev, depth = _lss(model, data)
    assert _close(depth, data['depth']) and _close(bev, data['bev'])
    with torch.no_grad():
        assert _close(model['fpn'](model['resnet'](data['bev'])), data['bev_out'])
    preds = _head_preds(model, data)
    for t, p in enumerate(preds):
        for k, v in p[0].items():
            assert _close(v, data[f'head.{t}.{k}']), (t, k)


def test_heatmap_rows_follow_the_class_names(record):
    """A checkpoint whose task-1 classes are listed in the other order gets its heatmap rows swapped."""
    _, data, weights = record
    classes = _classes()
    swapped = [classes[0], classes[1][::-1]]
    model = _convert_fixture(weights, official_classes=swapped)
    heat = _head_preds(model, data)[1][0]['heatmap']
    assert _close(heat, data['head.1.heatmap'].flip(1))
    assert not _close(heat, data['head.1.heatmap'], 1e-2)
    with pytest.raises(KeyError, match='class names differ'):
        _convert_fixture(weights, official_classes=[classes[0], ['truck', 'bus']])


def test_unknown_missing_and_misshaped_keys_are_listed_in_one_error(record):
    _, _, weights = record
    model = _build_ours()
    expected = {k: tuple(v.shape) for k, v in _rename(model.state_dict(), PREFIX).items()}
    official = _rename(weights, PREFIX)
    broken = dict(official)
    broken['pre_process_net.layers.0.0.conv1.weight'] = torch.zeros(1)  # BEVDet4D's, no place in our model
    del broken['img_view_transformer.depth_net.depth_conv.3.aspp2.bn.weight']
    broken['img_bev_encoder_neck.up2.1.weight'] = torch.zeros(3, 3, 3, 3)
    with pytest.raises(KeyError) as err:
        convert_official_bevdet(broken, expected, 'bevdet-r50-4d-depth-cbgs', _classes(), _classes())
    msg = str(err.value)
    assert '1 unknown official keys:\n  pre_process_net.layers.0.0.conv1.weight' in msg
    assert 'img_view_transformer.depth_net.depth_conv.3.branches.1.1.weight' in msg  # missing, named as ours
    assert 'img_bev_encoder_neck.up.1.weight: checkpoint (3, 3, 3, 3)' in msg
    # the image branch alone: the temporal / BEV keys are dropped by name, ours there may stay missing
    image = convert_official_bevdet({**official, 'pre_process_net.layers.0.0.conv1.weight': torch.zeros(1)},
                                    expected, 'bevdet-r50-4d-depth-cbgs', parts='image')
    assert image and all(k.startswith('img_view_transformer.') for k in image)


def test_released_bevdet_r50_layout_through_the_cli(tmp_path):
    """configs/bevdet_r50.py's full model: our keys -> the official bevdet-r50 names -> the CLI -> the same tensors;
    a checkpoint with one unknown key exits 1 and writes nothing."""
    sys.path.insert(0, str(ROOT / 'tools'))
    import convert_official_checkpoint as cli
    expected = cli.bevdet_expected_shapes(str(ROOT / 'configs/bevdet_r50.py'))
    g = torch.Generator().manual_seed(0)
    ours = {k: torch.randn(s, generator=g) if s else torch.tensor(3) for k, s in expected.items()}
    official = official_bevdet_from_ours(ours)
    for key in ('img_backbone.layer1.0.conv1.weight', 'img_neck.lateral_convs.1.conv.weight',
                'img_neck.fpn_convs.0.conv.bias', 'img_view_transformer.depth_net.weight',
                'img_bev_encoder_backbone.layers.1.0.downsample.weight', 'img_bev_encoder_neck.up2.1.weight',
                'pts_bbox_head.task_heads.0.heatmap.1.bias'):
        assert key in official, key
    # BEVDet's row of construction_vehicle (2) holds our row 4
    b = 'pts_bbox_head.task_heads.0.heatmap.1.bias'
    assert official[b][BEVDET_CLASSES.index('construction_vehicle')] == ours[b][MMDET3D_CLASSES.index(
        'construction_vehicle')]
    src = tmp_path / 'bevdet-r50.pth'
    torch.save({'state_dict': official, 'meta': {}}, src)
    out = tmp_path / 'out'
    assert cli.main(['--bevdet', str(src), '--out-dir', str(out)]) == 0
    converted = torch.load(out / 'bevdet_official.pth', map_location='cpu')['state_dict']
    assert set(converted) == set(ours) and all(torch.equal(converted[k], ours[k]) for k in ours)
    torch.save({'state_dict': {**official, 'img_neck.lateral_convs.2.conv.weight': torch.zeros(1)}}, src)
    bad = tmp_path / 'bad'
    assert cli.main(['--bevdet', str(src), '--out-dir', str(bad)]) == 1
    assert not bad.exists() or not any(bad.iterdir())
