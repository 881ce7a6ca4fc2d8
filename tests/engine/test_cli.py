"""Config loading: clear errors for missing files and misspelt overrides; the plugin registers everything."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from hybrid_depth.engine.cli import ConfigError, check_cfg_options, load_config


def _cfg() -> Config:
    return Config(dict(
        model=dict(type='X', backbone=dict(type='Y', depth=50)),
        train_dataloader=dict(batch_size=2, dataset=dict(type='D', pipeline=[dict(type='P', k=1)])),
    ))


@pytest.mark.parametrize('key', [
    'model.backbone.depth',            # existing leaf
    'model.backbone.frozen_stages',    # new constructor kwarg inside a typed dict
    'train_dataloader.dataset.pipeline.0.k',  # list index
    'randomness.seed',                 # runner key absent from this config
])
def test_check_cfg_options_accepts(key: str) -> None:
    check_cfg_options(_cfg(), {key: 1})


@pytest.mark.parametrize('key, named', [
    ('train_dataloader.batch_sise', "did you mean 'train_dataloader.batch_size'"),
    ('modle.backbone.depth', "did you mean 'model'"),
    ('train_dataloader.dataset.pipeline.3.k', "no '3' under train_dataloader.dataset.pipeline"),
    ('train_dataloader.sampler.shuffle', "no 'sampler' under train_dataloader"),
])
def test_check_cfg_options_rejects_with_named_key(key: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_cfg_options(_cfg(), {key: 1}, source='cfg.py')
    assert key in str(err.value) and named in str(err.value) and 'cfg.py' in str(err.value)


def test_load_config_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match='config file not found: .*nope.py'):
        load_config(str(tmp_path / 'nope.py'))


def test_load_config_broken_file_names_it(tmp_path) -> None:
    bad = tmp_path / 'bad.py'
    bad.write_text('model = dict(type=\n')
    with pytest.raises(ConfigError, match='bad.py'):
        load_config(str(bad))


def test_custom_imports_registers_into_mmdet3d_scope(tmp_path) -> None:
    """A stock-style config (default_scope mmdet3d) finds our runner and modules through custom_imports."""
    cfg_file = tmp_path / 'c.py'
    cfg_file.write_text("default_scope = 'mmdet3d'\n"
                        "custom_imports = dict(imports=['hybrid_depth'], allow_failed_imports=False)\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.default_scope == 'mmdet3d'
    from mmengine.registry import DATASETS, METRICS, MODELS, RUNNERS, TRANSFORMS, init_default_scope
    assert RUNNERS.get('HybridDepthRunner') is not None
    init_default_scope(cfg.default_scope)  # what the Runner does for a stock config
    for registry, names in ((MODELS, ['HybridEncoder', 'HybridDepthBackbone', 'HybridFineDepthEstimator']),
                            (DATASETS, ['KittiRawDepthDataset', 'TuSimpleLaneOrderDataset']),
                            (TRANSFORMS, ['LoadDepthFrames']), (METRICS, ['KittiEigenDepthMetric'])):
        with registry.switch_scope_and_registry(None) as scoped:  # None: the default scope, as build() does
            for name in names:
                assert scoped.get(name) is not None, name
    from hybrid_depth.models import TINY_ENCODER_KWARGS
    encoder = MODELS.build(dict(type='HybridEncoder', **TINY_ENCODER_KWARGS))
    assert type(encoder).__name__ == 'HybridEncoder'
