#!/usr/bin/env python
"""Turn a fine-stage (or coarse-stage) depth checkpoint into the weights of the BEV detector's image branch.

Input: an mmengine checkpoint of ``HybridFineDepthEstimator`` (``tools/train.py configs/hybrid_depth/fine_*.py``),
whose ``state_dict`` keys start with ``encoder.`` (``HybridEncoder``), ``prompt_bank.`` (``DepthPromptBank``),
``decoder.`` (``HybridDPTDecoder``) and ``pose_net.`` (``HybridPoseNet``).

Output (written atomically: a temporary file ``.<stem>.tmp-XXXX.pth`` in the target folder, then renamed, so a
killed run leaves no partial file under the output name; a rerun writes the whole file again and names such
leftovers to delete in one ``note:`` line), an mmengine-style dict::

    {'state_dict': {
         'backbone.<HybridEncoder key>': tensor,               # from encoder.*   -> HybridDepthBackbone
         'depth_branch.prompt_bank.<DepthPromptBank key>': ...,  # from prompt_bank.*
         'depth_branch.decoder.<HybridDPTDecoder key>': ...,     # from decoder.*
     },
     'meta': {
         'source': path of the depth checkpoint, 'source_meta': its mmengine meta (epoch, iter, ...),
         'mapping': {'encoder.': 'backbone.', ...}, 'dropped_prefixes': ['pose_net.'],
         'dropped': [keys deliberately left out], 'unmapped': [keys no rule matched],
         'encoder': {...}, 'prompt_bank': {...}, 'decoder': {...},   # the depth model's sub-configs (if the
     }}                                                           # checkpoint carries its config), with the
                                                                  # channels the estimator fills in at build

Everything in it is a tensor or a plain Python value, so ``torch.load(path, weights_only=True)`` reads it.

Load it into a detector with ``load_from=<output>`` (mmengine loads by key, ``strict=False``) or
``init_cfg=dict(type='Pretrained', checkpoint=<output>)``. Every key that no rule maps is listed on stdout
(``unmapped: ...``); with ``--strict`` any unmapped key is an error (exit code 1, nothing written).

Examples:
    python tools/export_backbone.py work_dirs/fine_kitti/epoch_30.pth work_dirs/fine_kitti/bev_backbone.pth
    python tools/export_backbone.py CKPT OUT --map encoder.=img_backbone. --drop pose_net. prompt_bank.text_encoder.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from collections.abc import Mapping, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root

import torch  # noqa: E402

from hybrid_depth.utils.atomic import atomic_write, stale_note  # noqa: E402
from hybrid_depth.utils.checkpoint import CheckpointFileError, describe_keys, load_torch_file  # noqa: E402

DEFAULT_MAPPING = {'encoder.': 'backbone.', 'prompt_bank.': 'depth_branch.prompt_bank.',
                   'decoder.': 'depth_branch.decoder.'}
DEFAULT_DROP = ('pose_net.',)


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], mapping: Mapping[str, str] = DEFAULT_MAPPING,
                       drop: Sequence[str] = DEFAULT_DROP) -> tuple[dict, list[str], list[str]]:
    """Rename keys by prefix.

    Args:
        state_dict: Depth-model weights.
        mapping: ``{old prefix: new prefix}``; the longest matching prefix wins.
        drop: Prefixes deliberately left out (e.g. the PoseNet, unused by a detector).

    Returns:
        ``(converted, dropped, unmapped)``: the renamed weights, the dropped keys and the keys no rule matched.
    """
    converted, dropped, unmapped = {}, [], []
    rules = sorted(mapping.items(), key=lambda kv: -len(kv[0]))
    for key, value in state_dict.items():
        if any(key.startswith(p) for p in drop):
            dropped.append(key)
            continue
        for old, new in rules:
            if key.startswith(old):
                converted[new + key[len(old):]] = value
                break
        else:
            unmapped.append(key)
    return converted, dropped, unmapped


def model_sub_configs(meta: Mapping) -> dict:
    """``encoder`` / ``prompt_bank`` / ``decoder`` sub-configs of the depth model from an mmengine checkpoint meta."""
    text = meta.get('cfg') if isinstance(meta, Mapping) else None
    if not text:
        return {}
    from mmengine.config import Config
    try:
        model = Config.fromstring(text, file_format='.py').get('model', {})
    except Exception:  # a config that no longer parses (e.g. its custom imports are gone) only loses the info
        return {}
    return {k: model[k].to_dict() if hasattr(model[k], 'to_dict') else dict(model[k])
            for k in ('encoder', 'prompt_bank', 'decoder') if k in model}


def atomic_save(obj: dict, path: str) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place (:func:`atomic_write`)."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('checkpoint', help='depth-model checkpoint (mmengine .pth)')
    p.add_argument('out', help='output file for the detector')
    p.add_argument('--map', nargs='+', default=None, metavar='OLD=NEW',
                   help='prefix rules replacing the defaults ' +
                   ' '.join(f'{k}={v}' for k, v in DEFAULT_MAPPING.items()))
    p.add_argument('--drop', nargs='*', default=None, metavar='PREFIX',
                   help=f'prefixes left out (default: {" ".join(DEFAULT_DROP)})')
    p.add_argument('--strict', action='store_true', help='fail (write nothing) if any key is unmapped')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from hybrid_depth.engine.runner import trusted_checkpoint_loading

    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    mapping = DEFAULT_MAPPING
    if args.map is not None:
        bad = [m for m in args.map if m.count('=') != 1]
        if bad:
            print(f'error: --map expects OLD=NEW, got {bad[0]!r}', file=sys.stderr)
            return 2
        mapping = dict(m.split('=') for m in args.map)
    drop = DEFAULT_DROP if args.drop is None else tuple(args.drop)
    try:
        with trusted_checkpoint_loading():
            ckpt = load_torch_file(args.checkpoint, 'depth checkpoint')
    except CheckpointFileError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, Mapping) or not state_dict:
        print(f'error: no state_dict in {args.checkpoint}', file=sys.stderr)
        return 2
    converted, dropped, unmapped = convert_state_dict(state_dict, mapping, drop)
    print(f'mapped: {len(converted)} keys ' + ', '.join(
        f'{old}* -> {new}* ({sum(k.startswith(new) for k in converted)})' for old, new in mapping.items()))
    print(f'dropped: {len(dropped)} keys (prefixes: {", ".join(drop) or "none"})')
    print(f'unmapped: {len(unmapped)} keys' + ''.join(f'\n  {k}' for k in unmapped))
    if args.strict and unmapped:
        print(f'error: {len(unmapped)} unmapped keys (--strict); nothing written', file=sys.stderr)
        return 1
    if not converted:
        print(f'error: no key of {args.checkpoint} matched the mapping ({", ".join(mapping)}): it holds '
              f'{describe_keys(state_dict)}, not a depth model; nothing written', file=sys.stderr)
        return 2
    src_meta = ckpt.get('meta', {}) or {}
    meta = {'source': osp.abspath(args.checkpoint),
            'source_meta': {k: v for k, v in src_meta.items() if k in ('epoch', 'iter', 'seed', 'time',
                                                                       'mmengine', 'experiment_name')},
            'mapping': dict(mapping), 'dropped_prefixes': list(drop), 'dropped': dropped, 'unmapped': unmapped,
            **model_sub_configs(src_meta)}
    # values the estimator fills in at build time, recorded so that the detector builds matching modules
    if 'decoder' in meta and 'decoder.projects.0.weight' in state_dict:
        meta['decoder'].setdefault('in_channels', int(state_dict['decoder.projects.0.weight'].shape[1]))
    if 'prompt_bank' in meta and 'prompt_bank.point_proj.weight' in state_dict:
        levels = meta['prompt_bank'].get('num_levels', 4)
        meta['prompt_bank'].setdefault('feature_channels',
                                       int(state_dict['prompt_bank.point_proj.weight'].shape[1]) // levels)
    note = stale_note([args.out])  # temporaries of a killed earlier run (never read)
    if note:
        print(note, file=sys.stderr)
    atomic_save({'state_dict': converted, 'meta': meta}, args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
