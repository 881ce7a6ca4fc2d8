"""Registered depth models (mmengine ``BaseModel``): the Hybrid-depth coarse and fine stages and the Monodepth2
baseline, plus the batch preprocessor of the depth datasets."""
from .data_preprocessor import DepthDataPreprocessor
from .hybrid_coarse import HybridCoarseDepthEstimator
from .hybrid_fine import HybridFineDepthEstimator
from .monodepth2 import Monodepth2DepthEstimator
from .self_supervised import SelfSupervisedDepthEstimator

__all__ = ['DepthDataPreprocessor', 'HybridCoarseDepthEstimator', 'HybridFineDepthEstimator',
           'Monodepth2DepthEstimator', 'SelfSupervisedDepthEstimator']
