"""Train a model from an mmengine config (the flags and behaviour of mmdetection3d 1.4's tools/train.py).

Examples:
    python tools/train.py configs/bevdet_hybrid.py
    python tools/train.py CONFIG --work-dir work_dirs/x --amp --cfg-options train_dataloader.batch_size=2
    python tools/train.py CONFIG --resume                # auto-resume from the latest checkpoint in work-dir
    bash tools/dist_train.sh CONFIG 8                     # 8 processes on one node (gloo when there is no GPU)
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

from mmengine.config import DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

from hybrid_depth.engine.cli import DATA_ERRORS, ConfigError, build_runner, data_error_line, load_config  # noqa: E402
from hybrid_depth.engine.hooks.nonfinite_loss import NonFiniteLossError  # noqa: E402
from hybrid_depth.engine.preflight import (  # noqa: E402
    PreflightError,
    log_mmcv_cuda_ops,
    preflight,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector or a depth model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--sync_bn', choices=['none', 'torch', 'mmcv'], default='none',
                        help='convert all BatchNorm layers in the model to SyncBatchNorm (SyncBN) or '
                        'mmcv.ops.sync_bn.SyncBatchNorm (MMSyncBN) layers.')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR.')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='If specify checkpoint path, resume from it, while if not specify, try to auto '
                        'resume from the latest checkpoint in the work directory.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy '
                        'format will be merged into config file. If the value to be overwritten is a list, '
                        'it should be like key="[a,b]" or key=a,b It also allows nested list/tuple values, '
                        'e.g. key="[(a,b),(c,d)]" Note that the quotation marks are necessary and that no '
                        'white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    cfg.launcher = args.launcher

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper in ('AmpOptimWrapper', 'HybridDepthAmpOptimWrapper'):
            print_log('AMP training is already enabled in your config.', logger='current')
        else:
            if optim_wrapper != 'OptimWrapper':
                print(f'error: --amp is only supported when optim_wrapper.type is OptimWrapper, '
                      f'got {optim_wrapper}', file=sys.stderr)
                return 2
            # mmengine's AmpOptimWrapper on CUDA (fp16, dynamic loss scale); bf16 autocast on CPU
            cfg.optim_wrapper.type = 'HybridDepthAmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        asl = cfg.get('auto_scale_lr', None)
        if asl is not None and 'enable' in asl and 'base_batch_size' in asl:
            cfg.auto_scale_lr.enable = True
        else:
            print('error: cannot find "auto_scale_lr" or "auto_scale_lr.enable" or '
                  '"auto_scale_lr.base_batch_size" in your configuration file.', file=sys.stderr)
            return 2

    if args.sync_bn != 'none':
        cfg.sync_bn = args.sync_bn

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            print(f'error: --resume checkpoint not found: {args.resume}', file=sys.stderr)
            return 2
        cfg.resume = True
        cfg.load_from = args.resume

    try:  # before the runner: a GPU torch cannot use, NCCL without CUDA (one line each)
        preflight(args.launcher, cfg.get('env_cfg'))
    except PreflightError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    try:
        runner = build_runner(cfg)
        log_mmcv_cuda_ops()  # compiled mmcv CUDA kernels or their fallbacks, logged once at start
        runner.train()
    except DATA_ERRORS as err:  # a missing or corrupt data / info file: one line naming it
        print(f'error: {data_error_line(err)}', file=sys.stderr)
        return 2
    except NonFiniteLossError as err:  # diverged: one line naming iteration and loss term
        return report_divergence(err)
    return 0


def report_divergence(err: BaseException) -> int:
    """Print the ``NonFiniteLossHook`` error as one line; exit status 1 (the inputs were fine, training was not)."""
    print(f'error: {err}', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
