"""Scale-NMS: per-class rescaling decides whether neighbouring boxes suppress each other."""
from __future__ import annotations

import torch
from mmdet3d.structures import LiDARInstance3DBoxes

from projects.BEVDet.bevdet.head import scale_nms


def _two_pedestrians():
    # two 0.6 m pedestrians 0.7 m apart: no overlap at their size
    boxes = torch.tensor([[5.0, 0.0, 0.0, 0.6, 0.6, 1.7, 0.0, 0, 0], [5.7, 0.0, 0.0, 0.6, 0.6, 1.7, 0.0, 0, 0]])
    return boxes, torch.tensor([0.9, 0.8]), torch.tensor([7, 7])


def test_scale_nms_enlarged_class_suppresses_duplicates():
    boxes, scores, labels = _two_pedestrians()
    ones = torch.ones(10)
    keep = scale_nms(boxes, scores, labels, LiDARInstance3DBoxes, ones, 0.2, 100, 100)
    assert sorted(keep.tolist()) == [0, 1]
    factors = ones.clone()
    factors[7] = 3.0  # pedestrians enlarged x3 -> they overlap -> the weaker is removed
    keep = scale_nms(boxes, scores, labels, LiDARInstance3DBoxes, factors, 0.2, 100, 100)
    assert keep.tolist() == [0]


def test_scale_nms_returns_original_boxes_untouched():
    boxes, scores, labels = _two_pedestrians()
    before = boxes.clone()
    scale_nms(boxes, scores, labels, LiDARInstance3DBoxes, torch.full((10,), 3.0), 0.2, 100, 100)
    torch.testing.assert_close(boxes, before)
