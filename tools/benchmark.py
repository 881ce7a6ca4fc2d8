"""Inference latency, FPS and peak memory of any config (and checkpoint), on CPU or GPU.

Examples::

    python tools/benchmark.py configs/bevdet_hybrid.py work_dirs/bevdet_hybrid/epoch_24.pth
    python tools/benchmark.py CONFIG --samples 20 --warmup 3 --device cpu --cfg-options ...

Builds the model and the test dataloader from the config exactly as ``tools/test.py`` does, runs
``model.test_step`` on ``--samples`` batches after ``--warmup`` untimed ones, and prints the mean/median
latency per batch, FPS (samples/s) and the peak memory: ``torch.cuda.max_memory_allocated`` on GPU, the
process's peak resident set size on CPU (which includes the Python interpreter and the libraries, so compare
configs measured the same way). Without a checkpoint the model keeps its initial weights: timing is the same.
"""
from __future__ import annotations

import argparse
import os.path as osp
import resource
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402

from hybrid_depth.engine.cli import ConfigError, load_config  # noqa: E402
from hybrid_depth.engine.runner import trusted_checkpoint_loading  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', default=None)
    p.add_argument('--samples', type=int, default=10, help='timed batches')
    p.add_argument('--warmup', type=int, default=2, help='untimed batches first')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    device = torch.device(args.device)
    from mmengine.registry import MODELS
    model = MODELS.build(cfg.model).to(device).eval()
    if args.checkpoint:
        with trusted_checkpoint_loading():
            load_checkpoint(model, args.checkpoint, map_location='cpu')
    loader = Runner.build_dataloader(cfg.test_dataloader)
    batch_size = loader.batch_size or 1
    needed = args.warmup + args.samples
    if len(loader) < needed:
        print(f'note: the test set has {len(loader)} batches; cycling it for {needed}', file=sys.stderr)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times: list[float] = []
    it = iter(loader)
    with torch.no_grad():
        for i in range(needed):
            try:
                batch = next(it)
            except StopIteration:
                it = iter(loader)
                batch = next(it)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model.test_step(batch)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    mean = statistics.mean(times)
    print(f'config: {args.config}\ndevice: {device} ({torch.get_num_threads()} threads)\n'
          f'batch size: {batch_size}, timed batches: {len(times)} after {args.warmup} warm-up\n'
          f'latency: mean {mean * 1000:.1f} ms, median {statistics.median(times) * 1000:.1f} ms per batch\n'
          f'FPS: {batch_size / mean:.2f} samples/s\n'
          f'peak memory: {peak_memory_mb(device):.0f} MB '
          f'({"max_memory_allocated" if device.type == "cuda" else "process peak RSS"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
