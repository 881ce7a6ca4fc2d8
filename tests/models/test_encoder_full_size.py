import pytest
import torch

from hybrid_depth.models.encoders import HybridEncoder


@pytest.mark.slow
def test_full_size_default_encoder_random_init():
    torch.manual_seed(0)
    enc = HybridEncoder(clip_pretrained=None, dino_pretrained=None).eval()  # RN50 + ViT-B/14
    assert [i['num_chs'] for i in enc.clip.feature_info] == [256, 512, 1024, 2048]
    assert isinstance(enc.align[0], torch.nn.Identity)
    assert enc.dino.indices == (2, 5, 8, 11)
    with torch.no_grad():
        for (h, w), grid in [((192, 640), (14, 46)), ((256, 704), (19, 51))]:
            out = enc(torch.rand(1, 3, h, w))
            assert [tuple(o.shape) for o in out] == [(1, 1024, *grid)] * 4
            assert all(torch.isfinite(o).all() for o in out)
