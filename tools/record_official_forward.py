#!/usr/bin/env python
"""Record the official Hybrid-depth Stage-2 (default) or Stage-1 forward on CPU as a small test fixture (no
official weights needed).

Given a local checkout of github.com/Zhangwenyao1/Hybrid-depth, this builds the official Stage-2 modules exactly as
``Stage2/trainer.py`` does for the released checkpoint (``depthdinoclipencoder`` with CLIP RN50 + DINOv2
ViT-B/14, ``--use_depth_text_align --cat_depth_text_logic --n_depth_text_tokens 256``, ``depthclipdecoder`` with
the DPT head, the "separate ResNet-18" pose encoder and ``PoseDecoder``), at their real sizes. No network access:
the official loaders are replaced in this script only (``clip.load`` builds the RN50 architecture from its
hyper-parameters, the DINOv2 ``.pth`` it reads is a temporary file, ``.cuda()`` is a no-op); the official
``forward`` code runs unchanged.

The weights are :func:`hybrid_depth.models.official_checkpoint.synthetic_official_state_dict` of the modules' own
key/shape manifest (seeded, loaded with ``strict=True``), so a test can rebuild them without the official code.
Written (atomically, into ``--out``): ``manifest.json`` (every official key with its shape and dtype, per file)
and ``forward.npz``: ``scene`` (uint8; frames 0, -1, +1 are crops shifted by 0, -4, +4 px, see
:func:`frames_from_scene`), the official fp32 disparity at every 2nd row and column (``disp_sub``) with its
full-size mean / sd / min / max / fraction > 0 (``disp_stats``), the fused encoder levels and the text matrix
subsampled (``fused_sub``, ``text_sub``), the pose outputs of both pairs, and the seed.

``--stage 1`` records the official coarse stage instead (``modules/DepthCLIP_dino.py`` ``DepthCLIP`` configured by
``params/basicParams_freeze_dino_clip_nodepth.yaml``, as ``main.py`` / ``modules/MainRunnerLM_vit2.py`` train it on
TuSimple: CLIP RN50 + DINOv2 ViT-B/14 fed the same ImageNet-normalised image, template "This patch appears to be
{}" with the 7 ``depth-7`` words), with the same seeded-manifest weights (keys ``model.*`` as in the Lightning
``stage1.ckpt``). Written into ``--out`` (default ``tests/fixtures/official_hybrid_depth_stage1``): ``manifest.json``
and ``forward.npz``: ``image`` (uint8, H x W x 3, see :func:`stage1_image`), one raw TuSimple label line
(``label_line``; its ``h_samples`` and ``lanes`` also as arrays, -2 = no point) that the official loader
(``datasets/dataloader.py``) reads with the image into the batch the model gets, the points the official forward
selected from it (``points``, (G, 7, 2) pixel ``(u, v)``, 7 per lane with at least 7 points, in label row order),
its coarse-stage ``logits`` (G, 7, 7), the official rank loss (``rank_loss``, ``MainRunnerLM_vit2.compute_losses``
summed over the lanes) and distance-weighted repulsion (``repulsion_loss``), the reduced and L2-normalised point
features (``point_feats``, (G, 7, 1024)), the text matrix (``text``, (1024, 7)) and the fused levels subsampled
(``fused_sub``).

Examples:
    python tools/record_official_forward.py --official-root /tmp/official_hd --out tests/fixtures/official_hybrid_depth
    python tools/record_official_forward.py --official-root /tmp/official_hd --stage 1
"""
from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import types

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load_conversion_module():
    """``hybrid_depth/models/official_checkpoint.py`` by path: it needs only torch, so this script runs in the
    official code's environment without this project's OpenMMLab stack."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'official_checkpoint', osp.join(ROOT, 'hybrid_depth', 'models', 'official_checkpoint.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


synthetic_official_state_dict = _load_conversion_module().synthetic_official_state_dict

HEIGHT, WIDTH = 224, 672  # hard-coded in the official depthclipdecoder.forward
N_TOKENS = 256


SHIFT = 4  # pixels between consecutive frames


def fixture_scene(seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth seeded RGB scene (H, W + 2 * SHIFT, 3) uint8 (a coarse random pattern upsampled)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 24, generator=g)
    base = torch.nn.functional.interpolate(coarse, size=(height, width + 2 * SHIFT), mode='bicubic',
                                           align_corners=False)
    return (base[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def frames_from_scene(scene: np.ndarray, width: int = WIDTH) -> torch.Tensor:
    """Frames 0, -1, +1 (3, 3, H, W) in [0, 1]: crops of the scene shifted by 0, -SHIFT, +SHIFT pixels."""
    crops = [scene[:, SHIFT + s:SHIFT + s + width] for s in (0, -SHIFT, SHIFT)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0


def _stub_missing(names: list[str]) -> None:
    """Empty stand-ins for imports the official files make but the recorded forward never uses."""
    for name in names:
        try:
            __import__(name)
        except Exception:
            mod = types.ModuleType(name)
            mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
            mod.__getattr__ = _stub_attr
            sys.modules[name] = mod


def _stub_attr(attr: str):
    if attr.startswith('__'):
        raise AttributeError(attr)
    return type(attr, (), {})  # any class-like attribute


def _patch_official_loaders(root: str) -> str:
    """Make the official code build on CPU without downloads (script-only, both stages).

    ``clip.load('RN50')`` builds OpenAI's RN50 architecture with random init instead of downloading; DINOv2 is
    built from ``<root>/dinov2`` without weights and its state dict saved where the official code reads
    ``DINOV2_PRETRAIN_PATH``; ``Tensor.cuda`` is a no-op (the official text path calls it); a missing
    ``pkg_resources`` gets a shim. The ``CLIP`` package imported is the first one on ``sys.path``. Returns the
    temporary DINOv2 file (the caller removes it).
    """
    try:
        import pkg_resources  # noqa: F401
    except Exception:
        import packaging.version
        sys.modules['pkg_resources'] = types.SimpleNamespace(packaging=packaging)
    torch.Tensor.cuda = lambda self, *a, **k: self  # CPU only: the official text path calls .cuda()
    from CLIP import clip
    from CLIP.clip.model import CLIP

    def load_rn50(name, device='cpu', jit=False, download_root=None, **kwargs):
        assert name == 'RN50', name
        model = CLIP(embed_dim=1024, image_resolution=224, vision_layers=(3, 4, 6, 3), vision_width=64,
                     vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=512,
                     transformer_heads=8, transformer_layers=12)
        return model.float().eval(), None

    clip.load = load_rn50
    hub_dino = torch.hub.load(osp.join(root, 'dinov2'), 'dinov2_vitb14', source='local', pretrained=False)
    tmp = tempfile.NamedTemporaryFile(suffix='.pth', delete=False)
    torch.save(hub_dino.state_dict(), tmp.name)
    os.environ['DINOV2_PRETRAIN_PATH'] = tmp.name
    return tmp.name


def build_official(root: str, seed: int):
    """The official Stage-2 modules (random init) with the loaders patched; returns (modules dict, args)."""
    stage2 = osp.join(root, 'Stage2')
    sys.path.insert(0, stage2)
    _stub_missing(['pytorch_lightning', 'omegaconf', 'huggingface_hub', 'wandb'])
    dino_file = _patch_official_loaders(root)  # CLIP from Stage2/CLIP (first on sys.path)
    import importlib.util

    def load_file(name, rel):
        spec = importlib.util.spec_from_file_location(name, osp.join(stage2, rel))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    pkg = types.ModuleType('networks')  # load the four files without networks/__init__ (it imports 10 others)
    pkg.__path__ = [osp.join(stage2, 'networks')]
    sys.modules['networks'] = pkg
    load_file('networks.blocks', 'networks/blocks.py')
    load_file('networks.dpt', 'networks/dpt.py')
    enc_mod = load_file('networks.dino_clip_encoder', 'networks/dino_clip_encoder.py')
    dec_mod = load_file('networks.depthclip_decoder', 'networks/depthclip_decoder.py')
    res_mod = load_file('networks.resnet_encoder', 'networks/resnet_encoder.py')
    pose_mod = load_file('networks.pose_decoder', 'networks/pose_decoder.py')
    args = types.SimpleNamespace(use_resnet50_instead_clip=False, dino_clip_align_method='interp_conv1x1',
                                 only_dino=False, only_clip=False, use_depth_text_align=True,
                                 n_depth_text_tokens=N_TOKENS, use_depth_text_embedding_preinit=False,
                                 cat_depth_text_logic=True)
    torch.manual_seed(seed)
    encoder = enc_mod.depthdinoclipencoder(args)
    os.remove(dino_file)
    depth = dec_mod.depthclipdecoder(args, in_channels=1024 + N_TOKENS, out_channels=[256, 512, 1024, 1024],
                                     n_depth_tokens=N_TOKENS)
    pose_encoder = res_mod.ResnetEncoder(18, False, num_input_images=2)
    pose = pose_mod.PoseDecoder(pose_encoder.num_ch_enc, num_input_features=1, num_frames_to_predict_for=2)
    return {'encoder': encoder, 'depth': depth, 'pose_encoder': pose_encoder, 'pose': pose}


def manifest_of(modules: dict) -> dict:
    return {name: {k: [list(v.shape), str(v.dtype).replace('torch.', '')] for k, v in m.state_dict().items()}
            for name, m in modules.items()}


@torch.no_grad()
def record(modules: dict, seed: int) -> tuple[dict, dict]:
    manifest = manifest_of(modules)
    for name, m in modules.items():
        m.load_state_dict(synthetic_official_state_dict(manifest[name], seed), strict=True)
        m.eval()
    scene = fixture_scene(seed)
    imgs = frames_from_scene(scene)  # (3, 3, H, W) raw [0, 1], as the official Stage 2 feeds its networks
    target = imgs[:1]
    _, fused, depth_info, _ = modules['encoder'](target, None)
    disp = modules['depth'](fused, depth_info)[('disp', 0)]
    text = depth_info['depth_text_embeddings']  # (1024, N)
    axis, trans = [], []
    for src, tgt in ((imgs[1:2], target), (target, imgs[2:3])):  # frame -1: [I_-1, I_0]; frame +1: [I_0, I_+1]
        a, t = modules['pose'](([modules['pose_encoder'](torch.cat([src, tgt], 1))][0],))
        axis.append(a[:, 0, 0])
        trans.append(t[:, 0, 0])
    disp = disp.numpy().astype(np.float32)
    out = {'seed': np.array(seed), 'scene': scene, 'disp_sub': disp[..., ::2, ::2],
           'disp_stats': np.array([disp.mean(), disp.std(), disp.min(), disp.max(), (disp > 0).mean()]),
           'fused_sub': np.stack([f[:, ::16, ::4, ::4].numpy() for f in fused]),
           'text_sub': text[::16, ::8].numpy(), 'axis_angle': torch.stack(axis, 1).numpy(),
           'translation': torch.stack(trans, 1).numpy()}
    return manifest, out


S1_HEIGHT, S1_WIDTH = 224, 308  # TuSimple-like input: short side 224, long side a multiple of 14 (non-square)
S1_PARAMS = 'params/basicParams_freeze_dino_clip_nodepth.yaml'
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def stage1_image(seed: int, height: int = S1_HEIGHT, width: int = S1_WIDTH) -> np.ndarray:
    """A smooth seeded RGB image (H, W, 3) uint8 for the Stage-1 fixture."""
    return fixture_scene(seed + 1, height, width - 2 * SHIFT)


def stage1_lanes(height: int = S1_HEIGHT, width: int = S1_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """TuSimple-style lanes: ``h_samples`` (R,) rows ``v`` and ``lanes`` (L, R) columns ``u`` (-2: no point).

    Four lanes converging to a vanishing point, with 32, 24, 15 and 5 points: the official forward keeps the first
    three (7 points each, at index ``j * ((n - 1) // 6)`` of the label rows) and skips the last (< 7 points). For
    32 and 24 points (n - 1 not a multiple of 6) the points picked from the top and from the bottom differ.
    """
    h_samples = np.arange(height - 4 * 32, height, 4)  # 32 rows, top (far) to bottom (near)
    vanish_u, vanish_v = width * 0.55, h_samples[0] - 30.0
    lanes = []
    for bottom_u, first in ((10.0, 0), (width * 0.4, 8), (width * 0.8, 17), (width - 6.0, 27)):
        t = (h_samples - vanish_v) / (height - 1 - vanish_v)
        u = np.round(vanish_u + t * (bottom_u - vanish_u)).astype(np.int64)
        u[:first] = -2
        lanes.append(u)
    return h_samples.astype(np.int64), np.stack(lanes)


S1_RAW_FILE = 'clips/fixture/0/20.png'  # TuSimple names ``clips/<date>/<clip>/20.jpg``; PNG keeps the fixture exact


def stage1_label_line(h_samples: np.ndarray, lanes: np.ndarray) -> str:
    """One raw TuSimple label line (``label_data_*.json`` format) of :func:`stage1_lanes` for ``S1_RAW_FILE``."""
    return json.dumps({'lanes': lanes.tolist(), 'h_samples': h_samples.tolist(), 'raw_file': S1_RAW_FILE})


def official_stage1_batch(root: str, image: np.ndarray, label_line: str) -> dict:
    """The official TuSimple batch of one label line, built by the official loader.

    ``datasets/dataloader.py`` ``LaneDepthMixDataset`` (lanes only: ``tusimple_kitti_mix_ratio=1.0`` as the params
    file sets) reads the label file and the image from a temporary TuSimple root, with the official evaluation
    transform (``utils/utils.py`` ``get_transforms_new``: aspect-preserving resize to a multiple of 14 -- the
    identity at 224 x 308 --, ``ToTensor``, ImageNet normalisation; the training transform adds a random colour
    jitter), and ``custom_mix_collate_fn`` batches it.
    """
    import importlib.util

    from PIL import Image
    sys.path.insert(0, root)
    from utils.utils import get_transforms_new
    spec = importlib.util.spec_from_file_location('official_dataloader', osp.join(root, 'datasets', 'dataloader.py'))
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    _, eval_transform = get_transforms_new(['normalize'], [224, 224], list(IMAGENET_MEAN), list(IMAGENET_STD),
                                           transform_target=False)
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(osp.join(tmp, osp.dirname(S1_RAW_FILE)))
        Image.fromarray(image).save(osp.join(tmp, S1_RAW_FILE))
        with open(osp.join(tmp, 'test_label.json'), 'w') as f:
            f.write(label_line + '\n')
        open(osp.join(tmp, 'depth_split.txt'), 'w').close()  # no KITTI half: lanes only
        ds = loader.LaneDepthMixDataset(tmp, osp.join(tmp, 'test_label.json'), osp.join(tmp, 'depth_split.txt'),
                                        tmp, tmp, eval_transform, tusimple_kitti_mix_ratio=1.0)
        return loader.custom_mix_collate_fn([ds[0]])


def official_rank_loss(root: str, logits: list) -> torch.Tensor:
    """The official Stage-1 rank loss of one image's lanes: ``modules/MainRunnerLM_vit2.py``'s
    ``compute_losses`` (read from the checkout and compiled alone; the Lightning module's other imports are not
    needed), summed over the lanes and divided by the images (1), as its ``training_step`` does."""
    import ast
    with open(osp.join(root, 'modules', 'MainRunnerLM_vit2.py')) as f:
        tree = ast.parse(f.read())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == 'compute_losses')
    namespace = {'torch': torch}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), 'MainRunnerLM_vit2.py', 'exec'), namespace)
    runner = types.SimpleNamespace(rank_loss=torch.nn.MarginRankingLoss())
    return sum(namespace['compute_losses'](runner, item, 'train', False)['rank_loss'] for item in logits) / 1


def _attr_cfg(value):
    """Nested dicts with attribute access, ``[]`` and ``.get`` (what the official code uses of its OmegaConf)."""
    class Cfg(dict):
        def __getattr__(self, name):
            try:
                return self[name]
            except KeyError as err:
                raise AttributeError(name) from err

        def __setattr__(self, name, val):
            self[name] = val

    if isinstance(value, dict):
        return Cfg({k: _attr_cfg(v) for k, v in value.items()})
    return value


def build_official_stage1(root: str, seed: int):
    """The official Stage-1 ``DepthCLIP`` (random init, loaders patched) as the params file configures it."""
    import importlib.util

    import yaml
    sys.path.insert(0, root)
    _stub_missing(['pytorch_lightning', 'huggingface_hub', 'wandb'])
    dino_file = _patch_official_loaders(root)  # CLIP from <root>/CLIP (official local modifications)
    pkg = types.ModuleType('modules')  # load the needed files without modules/__init__
    pkg.__path__ = [osp.join(root, 'modules')]
    sys.modules['modules'] = pkg
    mod = None
    for name in ('blocks', 'dpt', 'LearnableTokenEmbeddings', 'DepthCLIP_dino'):
        spec = importlib.util.spec_from_file_location(f'modules.{name}', osp.join(root, 'modules', f'{name}.py'))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f'modules.{name}'] = mod
        spec.loader.exec_module(mod)
    with open(osp.join(root, S1_PARAMS)) as f:
        args = _attr_cfg(yaml.safe_load(f))
    cwd = os.getcwd()
    os.chdir(root)  # DepthCLIP loads DINOv2 with torch.hub.load('dinov2', ..., source='local')
    try:
        torch.manual_seed(seed)
        model = mod.DepthCLIP(args)
    finally:
        os.chdir(cwd)
        os.remove(dino_file)
    return model


@torch.no_grad()
def record_stage1(model, root: str, seed: int) -> tuple[dict, dict]:
    """Load seeded weights into the official ``DepthCLIP`` and run its TuSimple forward on one raw label line.

    Returns:
        ``({'stage1': {'model.<key>': [shape, dtype]}}, arrays)`` (the arrays as in the module docstring).
    """
    manifest = {'model.' + k: [list(v.shape), str(v.dtype).replace('torch.', '')]
                for k, v in model.state_dict().items()}
    weights = synthetic_official_state_dict(manifest, seed)
    model.load_state_dict({k[len('model.'):]: v for k, v in weights.items()}, strict=True)
    model.eval()
    captured: dict[str, list] = {'fused': [], 'point_feats': [], 'text': []}
    fuse, contrastive, language = model.fuse_dino_clip, model.contrastive_loss, model.get_language_features

    def fuse_hook(*a, **k):
        out = fuse(*a, **k)
        captured['fused'].append([f.clone() for f in out])
        return out

    def contrastive_hook(feat):  # called with each lane's reduced, L2-normalised (7, 1024) point features
        captured['point_feats'].append(feat.clone())
        return contrastive(feat)

    def language_hook(*a, **k):
        out = language(*a, **k)
        captured['text'].append(out.clone())
        return out

    model.fuse_dino_clip, model.contrastive_loss, model.get_language_features = \
        fuse_hook, contrastive_hook, language_hook
    image = stage1_image(seed)
    h_samples, lanes = stage1_lanes()
    label_line = stage1_label_line(h_samples, lanes)
    batch = official_stage1_batch(root, image, label_line)  # as MainRunnerLM_vit2.training_step unpacks it
    logits, repulsion, _, coords = model(batch['image'], batch['height'], batch['width'],
                                         batch['input_shapes'].tolist(), batch['resize_ratios'])
    fused = captured['fused'][0]
    out = {'seed': np.array(seed), 'image': image, 'label_line': np.array(label_line),
           'h_samples': h_samples, 'lanes': lanes,
           'points': np.array(coords[0], dtype=np.int64),
           'logits': torch.stack(logits[0]).numpy(),
           'rank_loss': official_rank_loss(root, logits[0]).reshape(()).numpy(),
           'repulsion_loss': repulsion.reshape(()).numpy(),
           'point_feats': torch.stack(captured['point_feats']).numpy(),
           'text': captured['text'][0].numpy(),
           'fused_sub': np.stack([f[:, ::16, ::2, ::2].numpy() for f in fused])}
    return {'stage1': manifest}, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--official-root', required=True, help='checkout of Zhangwenyao1/Hybrid-depth')
    p.add_argument('--stage', type=int, choices=(1, 2), default=2, help='official stage to record')
    p.add_argument('--out', default=None, help='fixture folder (default: tests/fixtures/official_hybrid_depth, '
                   'with the suffix _stage1 for --stage 1)')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    if args.out is None:
        args.out = 'tests/fixtures/official_hybrid_depth' + ('_stage1' if args.stage == 1 else '')
    torch.set_grad_enabled(False)
    if args.stage == 1:
        if not osp.isfile(osp.join(args.official_root, 'modules', 'DepthCLIP_dino.py')):
            print(f'error: no modules/DepthCLIP_dino.py under {args.official_root}', file=sys.stderr)
            return 2
        model = build_official_stage1(osp.abspath(args.official_root), args.seed)
        manifest, out = record_stage1(model, osp.abspath(args.official_root), args.seed)
        lo, hi = out['logits'].min(), out['logits'].max()
        print(f'stage 1: {len(out["points"])} lanes, logits in [{lo:.4g}, {hi:.4g}]')
        _write(args.out, {'source': 'github.com/Zhangwenyao1/Hybrid-depth Stage 1 (modules/DepthCLIP_dino.py, '
                                    f'{S1_PARAMS})', 'seed': args.seed, 'input_size': [S1_HEIGHT, S1_WIDTH],
                          'files': manifest}, out)
        return 0
    if not osp.isdir(osp.join(args.official_root, 'Stage2', 'networks')):
        print(f'error: no Stage2/networks under {args.official_root}', file=sys.stderr)
        return 2
    modules = build_official(osp.abspath(args.official_root), args.seed)
    manifest, out = record(modules, args.seed)
    mean, std, lo, hi, pos = out['disp_stats']
    print(f'disparity: min {lo:.4g} max {hi:.4g} mean {mean:.4g} sd {std:.4g}, {pos:.1%} > 0')
    _write(args.out, {'source': 'github.com/Zhangwenyao1/Hybrid-depth Stage2 (trainer.py, released-checkpoint '
                                'options)', 'seed': args.seed, 'input_size': [HEIGHT, WIDTH],
                      'n_depth_text_tokens': N_TOKENS, 'files': manifest}, out)
    return 0


def _write(out_dir: str, manifest: dict, arrays: dict) -> None:
    """Write ``manifest.json`` and ``forward.npz`` into ``out_dir`` atomically (a new folder, then renamed)."""
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.official_fixture.', dir=parent)
    try:
        with open(osp.join(tmp, 'manifest.json'), 'w') as f:
            json.dump(manifest, f, indent=0, sort_keys=True)
        np.savez_compressed(osp.join(tmp, 'forward.npz'), **arrays)
        if osp.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f'wrote {out_dir}')


if __name__ == '__main__':
    sys.exit(main())
