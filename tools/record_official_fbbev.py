#!/usr/bin/env python
"""Record FB-OCC's FB-BEV modules (backward projection, FRPN, ``CM_DepthNet``, fusion) as a test fixture.

Given a checkout of github.com/NVlabs/FB-BEV (FB-OCC), this loads ``mmdet3d/models/fbbev/``'s
``modules/depth_net.py`` (``CM_DepthNet``), ``modules/frpn.py`` (``FRPN``) and the backward projection
(``backward_projection.py``, ``bevformer_utils/``: ``BEVFormer``, ``bevformer_encoder``, ``BEVFormerEncoderLayer``,
``DA_SpatialCrossAttention``, ``DA_MSDeformableAttention``, ``CustormLearnedPositionalEncoding``; the self-attention
is mmcv's ``MultiScaleDeformableAttention``) by path into this project's environment (mmcv 2 / mmdet 3 / mmdet3d
1.x). Only their imports are redirected, in this script: mmcv 1.x names (``mmcv.runner``, the
``mmcv.cnn.bricks.registry`` registries, ``mmdet.core``, ...) are stubbed with their mmengine / mmcv 2 equivalents;
the official forward code runs unchanged.

Deformable sampling is mmcv's PyTorch path (``multi_scale_deformable_attn_pytorch``) on both sides. Upstream applies
the depth weighting only in its CUDA branch (``torch.cuda.is_available() and value.is_cuda``); the record has both
branches: ``cpu`` (upstream as it runs on CPU, no depth weighting) and ``cuda`` (the CUDA branch with
``MultiScaleDeformableAttnFunction_fp32.apply`` replaced by mmcv's PyTorch function, which mmcv tests equal to the
kernel; the branch is entered by reporting CUDA available and the value maps as CUDA tensors during the call).

Weights: ``seeded_state_dict`` (``tools/record_official_bevdet.py``) of the modules' key/shape manifest. Rig: the BEVDet
recorder's 6 cameras with image and BEV augmentation; a 16 x 16 BEV of 5 m cells, 4 pillar heights, 20 depth bins,
C = 16. Written (``--out``, default ``tests/fixtures/official_fbbev``): ``manifest.json`` and ``forward.npz``.

Example:
    python tools/record_official_fbbev.py --official-root /work/official/fbocc --commit 6e25469
"""
from __future__ import annotations

import argparse
import contextlib
import os.path as osp
import sys
import types

import numpy as np
import torch
from torch import nn

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import record_official_bevdet as bevdet_rec  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEED = 0
N_CAM = bevdet_rec.N_CAM
INPUT_SIZE = bevdet_rec.INPUT_SIZE  # (H, W) network input
DOWNSAMPLE = 16
IN_CHANNELS = bevdet_rec.IN_CHANNELS  # image features into CM_DepthNet (= its mid channels)
C = 16  # context channels = BEV channels = embed dims
GRID = dict(x=(-40.0, 40.0, 5.0), y=(-40.0, 40.0, 5.0), z=(-1.0, 5.4, 6.4), depth=(2.0, 42.0, 2.0))
GRID_BEVFORMER = dict(x=(-40.0, 40.0, 5.0), y=(-40.0, 40.0, 5.0), z=(-1.0, 5.4, 1.6))  # 4 pillar heights
PC_RANGE = [-40.0, -40.0, -1.0, 40.0, 40.0, 5.4]
BEV = 16
DEPTH_BINS = 20
FG_THRESHOLD = 0.4


def _module(name: str, **attrs) -> types.ModuleType:
    return bevdet_rec._module(name, **attrs)


class _Registry:
    """mmcv 1.x registry names -> mmengine's root ``MODELS`` (where mmcv 2 builds attentions and layers)."""

    def __init__(self, registry):
        self.registry = registry

    def register_module(self, *args, **kwargs):
        return self.registry.register_module(*args, force=True, **kwargs)

    def build(self, cfg):
        return self.registry.build(cfg)


def _pytorch_msda_apply(value, spatial_shapes, level_start_index, sampling_locations, attention_weights,
                        im2col_step):
    """``MultiScaleDeformableAttnFunction.apply`` on mmcv's PyTorch path (same arguments, same result)."""
    from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch
    plain = [t.as_subclass(torch.Tensor) for t in (value, sampling_locations, attention_weights)]
    return multi_scale_deformable_attn_pytorch(plain[0], spatial_shapes, plain[1], plain[2])


class _ReportsCuda(torch.Tensor):
    """A CPU tensor that reports ``is_cuda`` (enters upstream's CUDA branch; the kernel is the PyTorch path)."""

    @property
    def is_cuda(self):
        return True


def load_official(root: str) -> dict[str, types.ModuleType]:
    """The official modules, with their mmcv 1.x imports stubbed (script-only)."""
    import mmcv
    import mmcv.cnn
    import mmcv.cnn.bricks.transformer as mmcv_transformer
    import mmdet.models
    import mmdet.models.utils
    from mmdet.models.utils import multi_apply
    from mmdet.utils import reduce_mean
    from mmengine.config import ConfigDict
    from mmengine.model import BaseModule as EngineBaseModule
    from mmengine.model import ModuleList, Sequential, constant_init, xavier_init
    from mmengine.registry import MODELS
    from mmengine.utils import digit_version
    from mmengine.utils.dl_utils import TORCH_VERSION

    class BaseModule(EngineBaseModule):
        def __init__(self, init_cfg=None):
            super().__init__(init_cfg)

    def passthrough(*args, **kwargs):
        return lambda fn: fn

    reg = _Registry(MODELS)
    _module('mmcv.runner', BaseModule=BaseModule, force_fp32=passthrough, auto_fp16=passthrough)
    _module('mmcv.runner.base_module', BaseModule=BaseModule, ModuleList=ModuleList, Sequential=Sequential)
    _module('mmcv.cnn.bricks.registry', ATTENTION=reg, TRANSFORMER_LAYER=reg, TRANSFORMER_LAYER_SEQUENCE=reg,
            FEEDFORWARD_NETWORK=reg, POSITIONAL_ENCODING=reg)
    mmcv_transformer.POSITIONAL_ENCODING = reg
    mmcv.ConfigDict = ConfigDict
    mmcv.deprecated_api_warning = passthrough
    mmcv.cnn.xavier_init, mmcv.cnn.constant_init = xavier_init, constant_init
    mmcv.cnn.bias_init_with_prob = lambda p: float(-np.log((1 - p) / p))
    import mmcv.utils
    mmcv.utils.TORCH_VERSION, mmcv.utils.digit_version = TORCH_VERSION, digit_version
    mmdet.models.HEADS = reg
    mmdet.models.build_neck = MODELS.build
    mmdet.models.utils.build_transformer = MODELS.build
    _module('mmdet.models.utils.builder', TRANSFORMER=reg)
    _module('mmdet.models.utils.transformer', inverse_sigmoid=lambda x, eps=1e-5: torch.logit(x, eps))
    _module('mmdet.core', multi_apply=multi_apply, reduce_mean=reduce_mean)
    _module('mmdet3d.core.bbox.coders', build_bbox_coder=MODELS.build)

    class _NoDice(nn.Module):  # upstream's CustomDiceLoss is not in the released code
        def forward(self, pred, target):
            return pred.new_zeros(())

    builder = _module('mmdet3d.models.builder', build_loss=lambda cfg: _NoDice())
    import mmdet3d.models
    mmdet3d.models.builder = builder
    _module('mmdet3d.models.fbbev.custom_ops.multi_scale_deformable_attn', multi_scale_deformable_attn=None)
    pkg = 'official_fbocc_bp'
    _module(pkg).__path__ = []
    fn_stub = types.SimpleNamespace(apply=_pytorch_msda_apply)
    _module(f'{pkg}.multi_scale_deformable_attn_function', MultiScaleDeformableAttnFunction_fp32=fn_stub,
            MultiScaleDeformableAttnFunction_fp16=fn_stub)
    fb = osp.join(root, 'mmdet3d/models/fbbev')
    utils = osp.join(fb, 'view_transformation/backward_projection/bevformer_utils')
    mods = {}
    for name in ('custom_base_transformer_layer', 'spatial_cross_attention_depth', 'positional_encoding',
                 'bevformer_encoder', 'bevformer'):
        mods[name] = bevdet_rec._load(osp.join(utils, f'{name}.py'), f'{pkg}.{name}', pkg)
    mods['backward_projection'] = bevdet_rec._load(
        osp.join(fb, 'view_transformation/backward_projection/backward_projection.py'), 'official_fbocc_backward')
    mods['frpn'] = bevdet_rec._load(osp.join(fb, 'modules/frpn.py'), 'official_fbocc_frpn')
    mods['depth_net'] = bevdet_rec._load(osp.join(fb, 'modules/depth_net.py'), 'official_fbocc_depth_net')
    return mods


def backward_projection_config() -> dict:
    """FB-OCC's ``backward_projection`` config (``fbocc-r50-cbgs_depth_16f_16x4_20e.py``) at the fixture's size."""
    return dict(
        bev_h=BEV, bev_w=BEV, in_channels=C, out_channels=C, pc_range=PC_RANGE,
        transformer=dict(
            type='BEVFormer', use_cams_embeds=False, embed_dims=C,
            encoder=dict(
                type='bevformer_encoder', num_layers=1, pc_range=PC_RANGE, grid_config=GRID_BEVFORMER,
                data_config=dict(input_size=INPUT_SIZE), return_intermediate=False,
                transformerlayers=dict(
                    type='BEVFormerEncoderLayer',
                    attn_cfgs=[
                        dict(type='MultiScaleDeformableAttention', embed_dims=C, dropout=0.0, num_levels=1),
                        dict(type='DA_SpatialCrossAttention', pc_range=PC_RANGE, dbound=list(GRID['depth']),
                             dropout=0.0, embed_dims=C,
                             deformable_attention=dict(type='DA_MSDeformableAttention', embed_dims=C, num_points=8,
                                                       num_levels=1))],
                    ffn_cfgs=dict(type='FFN', embed_dims=C, feedforward_channels=4 * C, ffn_drop=0.0,
                                  act_cfg=dict(type='ReLU', inplace=True)),
                    feedforward_channels=4 * C, ffn_dropout=0.0,
                    operation_order=('self_attn', 'norm', 'cross_attn', 'norm', 'ffn', 'norm')))),
        positional_encoding=dict(type='CustormLearnedPositionalEncoding', num_feats=C // 2, row_num_embed=BEV,
                                 col_num_embed=BEV))


def build_official(mods) -> dict[str, nn.Module]:
    depth_net = mods['depth_net'].CM_DepthNet(
        in_channels=IN_CHANNELS, context_channels=C, depth_channels=DEPTH_BINS, mid_channels=IN_CHANNELS,
        use_dcn=False, downsample=DOWNSAMPLE, grid_config=GRID, loss_depth_weight=1.0)
    frpn = mods['frpn'].FRPN(in_channels=C, mask_thre=FG_THRESHOLD)
    bp = mods['backward_projection'].BackwardProjection(**backward_projection_config())
    return dict(depth_net=depth_net, frpn=frpn, bp=bp)


def official_weights(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """``seeded_state_dict`` of the manifest, except the FRPN's BCE ``pos_weight`` buffer (2.13, a constant
    upstream) and its last bias (-0.5, so that about half the cells pass the 0.4 threshold)."""
    weights = bevdet_rec.seeded_state_dict(shapes, seed)
    weights['frpn.ce_loss.pos_weight'] = torch.tensor([2.13])
    weights['frpn.mask_net.3.bias'] = torch.tensor([-0.5])
    return weights


@contextlib.contextmanager
def cuda_branch(bp: nn.Module):
    """Run upstream's CUDA branch of ``DA_MSDeformableAttention`` on CPU tensors (kernel = PyTorch path)."""
    attn = [m for m in bp.modules() if type(m).__name__ == 'DA_MSDeformableAttention']

    def pre(module, args, kwargs):
        kwargs['value'] = kwargs['value'].as_subclass(_ReportsCuda)
        return args, kwargs

    def post(module, args, kwargs, output):
        return output.as_subclass(torch.Tensor)

    handles = [h for m in attn for h in (m.register_forward_pre_hook(pre, with_kwargs=True),
                                         m.register_forward_hook(post, with_kwargs=True))]
    available = torch.cuda.is_available
    torch.cuda.is_available = lambda: True
    try:
        yield
    finally:
        torch.cuda.is_available = available
        for h in handles:
            h.remove()


def record(mods, seed: int = SEED) -> tuple[dict, dict[str, np.ndarray]]:
    modules = build_official(mods)
    shapes = {f'{m}.{k}': tuple(v.shape) for m, mod in modules.items() for k, v in mod.state_dict().items()}
    weights = official_weights(shapes, seed)
    for m, mod in modules.items():
        mod.load_state_dict({k[len(m) + 1:]: v for k, v in weights.items() if k.startswith(m + '.')}, strict=True)
        mod.eval()
    r = bevdet_rec.rig(seed)
    out: dict[str, np.ndarray] = {}
    b, n = 1, N_CAM
    rots, trans = r['cam2ego'][..., :3, :3], r['cam2ego'][..., :3, 3]
    cam_params = (rots, trans, r['cam2img'], r['post_rots'], r['post_trans'], r['bda'])
    feats = r['feats'].view(b, n, *r['feats'].shape[1:])
    g = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        dn = modules['depth_net']
        mlp_input = dn.get_mlp_input(*cam_params)
        context, depth = dn(feats, mlp_input)
        out.update(mlp_input=mlp_input.numpy(), context=context.numpy(), depth=depth.numpy())
        # a stand-in LSS BEV (B, C, Y, X, Z = 1): the forward projection is BEVDet's, recorded by its own fixture
        lss_bev = torch.randn(b, C, BEV, BEV, 1, generator=g)
        mask_logits = modules['frpn'](lss_bev.mean(-1))
        fg = mask_logits.sigmoid() > FG_THRESHOLD  # FBOCC.extract_img_bev_feat
        out.update(lss_bev=lss_bev.numpy(), mask_logits=mask_logits.numpy(), fg_mask=fg.numpy())
        bp = modules['bp']
        for branch in ('cpu', 'cuda'):
            for masked in (False, True):
                ctx = cuda_branch(bp) if branch == 'cuda' else contextlib.nullcontext()
                with ctx:
                    refined = bp([context], [{}], lss_bev=lss_bev.mean(-1), cam_params=cam_params,
                                 bev_mask=fg if masked else None, pred_img_depth=depth)
                fused = refined[..., None] + lss_bev  # FBOCC.extract_img_bev_feat with readd=True
                out[f'bp.{branch}.{"fg" if masked else "all"}'] = fused[..., 0].numpy()
    # FRPN loss (BCE with pos_weight 2.13; the Dice term's CustomDiceLoss is not in the released code)
    gt_mask = torch.rand(b, BEV, BEV, generator=g) < 0.2
    logits = mask_logits.detach().requires_grad_(True)
    loss = modules['frpn'].get_bev_mask_loss(gt_mask, logits)['mask_ce_loss']
    loss.backward()
    out.update(frpn_gt_mask=gt_mask.numpy(), frpn_bce=loss.detach().numpy(), frpn_bce_grad=logits.grad.numpy())
    # depth loss on the depth net's output and sparse LiDAR-like depth
    depth_req = depth.clone().requires_grad_(True)
    dloss = dn.get_depth_loss(r['gt_depth'].view(b, n, *INPUT_SIZE), depth_req)['loss_depth']
    dloss.backward()
    out.update(depth_loss=dloss.detach().numpy(), depth_grad=depth_req.grad.numpy())
    for k in ('cam2ego', 'cam2img', 'post_rots', 'post_trans', 'bda', 'feats', 'gt_depth'):
        out[f'input.{k}'] = r[k].numpy()
    manifest = dict(seed=seed, shapes={k: list(v) for k, v in shapes.items()})
    return manifest, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--official-root', required=True, help='a checkout of github.com/NVlabs/FB-BEV')
    parser.add_argument('--commit', required=True, help='the commit of that checkout (written to the manifest)')
    parser.add_argument('--out', default=osp.join(ROOT, 'tests/fixtures/official_fbbev'))
    args = parser.parse_args()
    torch.manual_seed(SEED)
    manifest, out = record(load_official(args.official_root))
    manifest.update(source='github.com/NVlabs/FB-BEV mmdet3d/models/fbbev (FB-OCC)', commit=args.commit)
    bevdet_rec.write_fixture(args.out, manifest, out)


if __name__ == '__main__':
    main()
