"""ValidateBeforeTrainHook: a real mmengine Runner validates the untrained model once, before iteration 1."""
from __future__ import annotations

import json

import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from hybrid_depth.engine.hooks import ValidateBeforeTrainHook
from hybrid_depth.engine.runner import HybridDepthRunner as Runner  # resumes on torch>=2.6


class _Points(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.tensor([float(i)]), target=torch.tensor([3.0]))


class _Model(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, target, mode='tensor'):
        pred = self.w.expand(len(inputs))
        if mode == 'loss':
            return {'loss': ((pred - target.view(-1)) ** 2).mean()}
        return [dict(pred=float(p), target=float(t)) for p, t in zip(pred, target.view(-1))]


class _Error(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results += [abs(s['pred'] - s['target']) for s in data_samples]

    def compute_metrics(self, results) -> dict:
        return {'error': sum(results) / len(results)}


def _runner(tmp_path, hooks, max_iters=4):
    loader = dict(dataset=_Points(), sampler=dict(type='DefaultSampler', shuffle=False), batch_size=4,
                  collate_fn=dict(type='default_collate'))
    return Runner(model=_Model(), work_dir=str(tmp_path), train_dataloader=loader, val_dataloader=loader,
                  val_evaluator=[_Error()], optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.2)),
                  train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters), val_cfg=dict(),
                  custom_hooks=hooks, default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                                                          by_epoch=False)),
                  randomness=dict(seed=0), default_scope='mmdet3d')


def _errors(tmp_path) -> list[float]:
    log = sorted(tmp_path.glob('*/vis_data/scalars.json'))[-1]
    return [r['error'] for r in map(json.loads, log.read_text().splitlines()) if 'error' in r]


def test_untrained_metrics_open_the_log(tmp_path):
    _runner(tmp_path / 'with', [dict(type='ValidateBeforeTrainHook')]).train()
    errors = _errors(tmp_path / 'with')
    assert errors[0] == 3.0 and len(errors) == 2 and errors[1] < 3.0  # w = 0 before training, then learned
    _runner(tmp_path / 'without', []).train()
    assert len(_errors(tmp_path / 'without')) == 1


def test_resumed_run_is_not_validated_again(tmp_path):
    _runner(tmp_path, [ValidateBeforeTrainHook()], max_iters=2).train()
    assert len(_errors(tmp_path)) == 2
    runner = _runner(tmp_path, [ValidateBeforeTrainHook()], max_iters=4)
    runner._resume = True
    runner._load_from = str(tmp_path / 'iter_2.pth')
    runner.train()
    # newest log: the first run's two validations (+ the resumed run's, when both share a timestamp) ...
    errors = _errors(tmp_path)
    assert len(errors) in (1, 3)
    # ... and the resumed run added only its final validation, no second "untrained" one
    assert errors[-1] < 1.0 and errors.count(3.0) == (1 if len(errors) == 3 else 0)
