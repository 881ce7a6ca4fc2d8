"""BEVDet as its authors built it: module kinds, numbers and hyper-parameters of the official code (issue 15).

Official reference: HuangJunJie2017/BEVDet dev2.0 (``CustomFPN``, ``CustomResNet``, ``LSSViewTransformer``,
``DepthNet``, ``PrepareImageInputs``, ``MEGVIIEMAHook``, ``configs/bevdet/bevdet-r50.py``) and NVlabs/FB-BEV, which
carries the same dev2.0 modules.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch import nn

import projects.BEVDet.bevdet  # noqa: F401  (registration)
from projects.BEVDet.bevdet.bev_encoder import BEVDetResNet
from projects.BEVDet.bevdet.depth_net import ASPP, BEVDepthCameraAwareDepthNet
from projects.BEVDet.bevdet.ema import MEGVIIExponentialMovingAverage, megvii_ema_decay
from projects.BEVDet.bevdet.image_neck import BEVDetCustomFPN
from projects.BEVDet.bevdet.transforms import augment_image, official_image_aug_matrix
from projects.BEVDet.bevdet.view_transformer import camera_params_vector, create_frustum

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ['bevdet_r50.py', 'bevdet_hybrid.py', 'fbbev_r50.py', 'fbbev_hybrid.py', 'demo/bevdet_hybrid_demo.py',
           'demo/fbbev_hybrid_demo.py', 'demo/fbbev_r50_demo.py']


def _cfg(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / name))


def _train_dataset(cfg: Config) -> dict:
    dataset = cfg.train_dataloader.dataset
    return dataset.dataset if dataset.type == 'CBGSDataset' else dataset


# ---------------------------------------------------------------- D2: score threshold
def test_score_threshold_is_the_official_0_1():
    head = _cfg('bevdet_r50.py').model.pts_bbox_head
    assert head.bbox_coder.score_threshold == 0.1 and head.test_cfg.score_threshold == 0.1


# ---------------------------------------------------------------- D4: CustomFPN convs
def test_custom_fpn_output_conv_is_a_plain_conv_with_bias():
    neck = BEVDetCustomFPN([1024, 2048], 256)
    assert type(neck.out_conv) is nn.Conv2d and neck.out_conv.kernel_size == (3, 3)
    assert neck.out_conv.bias is not None
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.ReLU)) for m in neck.modules())
    assert all(lat.bias is not None and lat.kernel_size == (1, 1) for lat in neck.lateral)
    out = neck([torch.randn(1, 1024, 16, 44), torch.randn(1, 2048, 8, 22)])
    assert len(out) == 1 and out[0].shape == (1, 256, 16, 44) and (out[0] < 0).any()  # no ReLU at the end


# ---------------------------------------------------------------- D5: CustomResNet shortcut
def test_custom_resnet_shortcut_is_a_strided_3x3_conv_with_bias():
    net = BEVDetResNet(64, num_layers=(2, 2, 2), num_channels=(128, 256, 512), strides=(2, 2, 2))
    for stage, (c_in, c_out) in zip(net.stages, [(64, 128), (128, 256), (256, 512)]):
        first, second = stage[0].shortcut, stage[1].shortcut
        assert type(first) is nn.Conv2d and first.kernel_size == (3, 3) and first.stride == (2, 2)
        assert first.bias is not None and (first.in_channels, first.out_channels) == (c_in, c_out)
        assert type(second) is nn.Identity
    assert [o.shape[1:] for o in net(torch.randn(1, 64, 32, 32))] == [(128, 16, 16), (256, 8, 8), (512, 4, 4)]
    # a stage with stride 1 and the same width still gets the conv shortcut on its first block (as upstream)
    assert type(BEVDetResNet(8, num_layers=(1,), num_channels=(8,), strides=(1,)).stages[0][0].shortcut) is nn.Conv2d


# ---------------------------------------------------------------- D6: frustum pixels
def test_frustum_linspace_is_the_official_one_and_the_default():
    f = create_frustum((16, 44), (1.0, 60.0, 1.0), 16, 'linspace', (256, 704))
    assert f.shape == (59, 16, 44, 3)
    torch.testing.assert_close(f[0, 0, :, 0], torch.linspace(0, 703, 44))
    torch.testing.assert_close(f[0, :, 0, 1], torch.linspace(0, 255, 16))
    centres = create_frustum((16, 44), (1.0, 60.0, 1.0), 16, 'cell_centres')
    gap = (f[0, 0, :, 0] - centres[0, 0, :, 0]).abs()
    assert float(gap[0]) == 7.5 and float(gap[-1]) == 7.5  # the up-to-8-px difference of the issue
    with pytest.raises(ValueError, match='input_size'):
        create_frustum((16, 44), (1.0, 60.0, 1.0), 16, 'linspace')
    with pytest.raises(ValueError, match="'corners'"):
        create_frustum((16, 44), (1.0, 60.0, 1.0), 16, 'corners')


@pytest.mark.parametrize('name, pixels', [('bevdet_r50.py', 'linspace'), ('fbbev_r50.py', 'linspace'),
                                          ('bevdet_hybrid.py', 'cell_centres'), ('fbbev_hybrid.py', 'cell_centres')])
def test_configs_frustum_pixels(name, pixels):
    from mmdet3d.registry import MODELS
    vt = dict(_cfg(name).model.img_view_transformer)
    vt['depth_net'] = dict(type='BEVDetDepthNet', in_channels=8)  # only the frustum is under test
    built = MODELS.build(vt)
    h, w = built.feature_size
    expected = create_frustum((h, w), built.grid_config['depth'], built.downsample, pixels, built.input_size)
    torch.testing.assert_close(built.frustum, expected)


# ---------------------------------------------------------------- D8: LiDAR only for depth supervision
@pytest.mark.parametrize('name', CONFIGS)
def test_lidar_and_depth_targets_are_loaded_iff_the_depth_loss_is_on(name):
    cfg = _cfg(name)
    types = [t['type'] for t in _train_dataset(cfg).pipeline]
    supervised = cfg.model.img_view_transformer.loss_depth_weight > 0
    assert ('LoadPointsFromFile' in types) == supervised and ('BEVDetMultiViewDepthTargets' in types) == supervised
    if supervised:  # depth maps need the augmented cameras, and come before the BEV augmentation
        assert types.index('BEVDetLoadMultiViewImages') < types.index('BEVDetMultiViewDepthTargets') < types.index(
            'BEVDetBEVAugmentation')


# ---------------------------------------------------------------- F5: BEVDepth's depth net
def test_camera_aware_depth_net_is_bevdepths():
    from mmdet.models.backbones.resnet import BasicBlock
    net = BEVDepthCameraAwareDepthNet(in_channels=512, mid_channels=512, depth_channels=118, context_channels=80)
    kinds = [type(m) for m in net.depth_conv]
    assert kinds == [BasicBlock, BasicBlock, BasicBlock, ASPP, nn.Conv2d]
    aspp = net.depth_conv[3]
    assert [b[0].dilation[0] for b in aspp.branches] == [1, 6, 12, 18] and aspp.dropout.p == 0.5
    assert [b[0].kernel_size[0] for b in aspp.branches] == [1, 3, 3, 3]
    assert net.reduce[0].kernel_size == (3, 3) and net.reduce[0].bias is not None
    assert [type(m) for m in net.depth_mlp] == [nn.Linear, nn.ReLU, nn.Linear]
    assert net.depth_mlp[0].in_features == 27 and net.cam_bn.num_features == 27
    assert net.depth_conv[-1].out_channels == 118 and net.context_conv.out_channels == 80
    with_dcn = BEVDepthCameraAwareDepthNet(16, 16, 10, 4, use_dcn=True)
    assert type(with_dcn.depth_conv[-2]).__name__ == 'DeformConv2dPack' and with_dcn.depth_conv[-2].groups == 4
    net = BEVDepthCameraAwareDepthNet(16, 8, 10, 4).eval()
    depth, context = net([torch.randn(2, 16, 5, 7)], torch.randn(2, 27))
    assert depth.shape == (2, 10, 5, 7) and context.shape == (2, 4, 5, 7)


def test_camera_descriptor_in_the_official_order():
    cam2img = torch.tensor([[[[1.0, 0, 3.0], [0, 2.0, 4.0], [0, 0, 1]]]])
    post_rots = torch.tensor([[[[5.0, 6.0, 0], [7.0, 8.0, 0], [0, 0, 1]]]])
    post_trans = torch.tensor([[[9.0, 10.0, 0]]])
    bda = torch.tensor([[[11.0, 12.0, 0], [13.0, 14.0, 0], [0, 0, 15.0]]])
    cam2ego = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4) + 16
    vec = camera_params_vector(cam2img, cam2ego, post_rots, post_trans, bda)[0, 0]
    # get_mlp_input: fx fy cx cy, post_rot 00 01, post_tran 0, post_rot 10 11, post_tran 1, bda 00 01 10 11 22,
    # sensor2ego [R | t] row-major
    expected = [1, 2, 3, 4, 5, 6, 9, 7, 8, 10, 11, 12, 13, 14, 15] + cam2ego[0, 0, :3, :4].flatten().tolist()
    assert vec.tolist() == expected


# ---------------------------------------------------------------- F8 / D1: the depth configs and the init
def test_depth_configs_follow_the_official_depth_settings():
    for name in ('fbbev_r50.py', 'fbbev_hybrid.py', 'bevdet_hybrid.py'):
        cfg = _cfg(name)
        vt = cfg.model.img_view_transformer
        assert len(np.arange(*vt.grid_config['depth'])) == 118 and vt.out_channels == 80, name
        assert vt.loss_depth_weight == 3.0
        assert cfg.train_dataloader.dataset.type == 'CBGSDataset' and cfg.optim_wrapper.optimizer.weight_decay == 1e-2
        assert cfg.model.img_bev_encoder_backbone.num_channels == (160, 320, 640)
        assert cfg.model.img_bev_encoder_neck.in_channels == 800
    r50 = _cfg('fbbev_r50.py').model
    assert r50.img_neck.out_channels == 512 and r50.img_view_transformer.depth_net.type == 'BEVDepthCameraAwareDepthNet'
    assert r50.img_view_transformer.depth_net.in_channels == 512 == r50.img_view_transformer.depth_net.mid_channels
    plain = _cfg('bevdet_r50.py')  # BEVDet itself keeps bevdet-r50.py's numbers
    assert plain.model.img_view_transformer.grid_config['depth'] == (1.0, 60.0, 1.0)
    assert plain.model.img_view_transformer.out_channels == 64 and plain.model.img_neck.out_channels == 256
    assert plain.train_dataloader.dataset.type == 'BEVDetNuScenesDataset'  # NuScenesDataset + info contract
    assert plain.optim_wrapper.optimizer.weight_decay == 1e-7


def test_resnet50_starts_from_imagenet_in_the_local_hub_cache(tmp_path, monkeypatch):
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope

    from projects.BEVDet.bevdet.pretrained import torchvision_cache_path
    init_default_scope('mmdet3d')
    backbone_cfg = _cfg('bevdet_r50.py').model.img_backbone
    assert backbone_cfg.init_cfg == dict(type='Pretrained', checkpoint='torchvision://resnet50')
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    path = torchvision_cache_path('resnet50')
    assert path == str(tmp_path / 'checkpoints' / 'resnet50-0676ba61.pth')
    backbone = MODELS.build(dict(backbone_cfg, depth=18))  # the file is read by key; a small net is enough
    with pytest.raises(FileNotFoundError, match=r'resnet50-0676ba61\.pth.*init_cfg=None'):
        backbone.init_weights()
    Path(path).parent.mkdir(parents=True)
    weight = torch.randn_like(backbone.conv1.weight)
    torch.save({'conv1.weight': weight}, path)
    backbone = MODELS.build(dict(backbone_cfg, depth=18))
    backbone.init_weights()
    torch.testing.assert_close(backbone.conv1.weight.detach(), weight)
    # the demos start from scratch and need no file
    assert _cfg('demo/fbbev_r50_demo.py').model.img_backbone.init_cfg is None


# ---------------------------------------------------------------- D3: MEGVII EMA
def test_megvii_ema_ramps_its_decay_and_averages_buffers():
    assert megvii_ema_decay(2000) == pytest.approx(0.999 * (1 - math.exp(-1)))
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = MEGVIIExponentialMovingAverage(model, decay=0.999, init_updates=100)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: v.clone() for k, v in start.items()}
    for n in (1, 2):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
            model[1].running_mean.add_(2.0)
        ema.update_parameters(model)
        d = 0.999 * (1 - math.exp(-(100 + n) / 2000))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                expected[k] = d * expected[k] + (1 - d) * v
    for k, v in ema.module.state_dict().items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(v, expected[k])
    assert not torch.equal(ema.module[1].running_mean, start['1.running_mean'])  # BN statistics averaged too


def test_configs_use_the_megvii_ema_hook():
    from mmengine.registry import MODELS as ENGINE_MODELS
    hooks = _cfg('bevdet_r50.py').custom_hooks
    assert len(hooks) == 1 and hooks[0].type == 'EMAHook'
    ema_cfg = {k: v for k, v in hooks[0].items() if k not in ('type', 'priority')}
    ema_type = ema_cfg.pop('ema_type')
    assert ema_type == 'MEGVIIExponentialMovingAverage' and ema_cfg['update_buffers'] is True
    built = ENGINE_MODELS.build(dict(type=ema_type, model=nn.Linear(2, 2), **ema_cfg))  # as EMAHook builds it
    assert built.decay == 0.999 and built.init_updates == 10560


# ---------------------------------------------------------------- D7: image resampling
def test_pil_resampling_antialiases_the_downscale():
    img = np.zeros((900, 1600, 3), dtype=np.uint8)
    img[:, ::2] = 255  # 2-px stripes: above the Nyquist limit of a 0.44x image
    pil, _ = augment_image(img, 0.44, (0, 140), False, 0.0, (256, 704), 'pil')
    warp, _ = augment_image(img, 0.44, (0, 140), False, 0.0, (256, 704), 'warp_affine')
    inner = (slice(8, -8), slice(8, -8))
    assert abs(float(pil[inner].mean()) - 127.5) < 3 and float(pil[inner].std()) < 10  # flat grey
    assert float(warp[inner].std()) > 40  # aliased stripes


@pytest.mark.parametrize('flip, rotate', [(False, 0.0), (True, 0.0), (False, 5.0), (True, -4.0)])
def test_pil_resampling_puts_pixels_where_its_matrix_says(flip, rotate):
    img = np.zeros((900, 1600, 3), dtype=np.uint8)
    src = np.array([1000.0, 600.0])  # centre of a bright 9x9 block
    img[596:605, 996:1005] = 255
    out, aug = augment_image(img, 0.47, (40, 150), flip, rotate, (256, 704), 'pil')
    ys, xs = np.nonzero(out[..., 0] > 64)
    weights = out[ys, xs, 0].astype(np.float64)
    centroid = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    expected = (aug @ np.array([*src, 1.0]))[:2]
    assert np.abs(centroid - expected).max() < 0.5
    official = official_image_aug_matrix(0.47, (40, 150), flip, rotate, (256, 704))
    assert np.abs((official @ np.array([*src, 1.0]))[:2] - expected).max() < (1.6 if flip else 0.6)
    assert not np.allclose(official, aug)  # the half-pixel term of the resize at least
