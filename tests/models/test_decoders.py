import pytest
import torch

from hybrid_depth.models.decoders import HybridDPTDecoder, Monodepth2DepthDecoder
from hybrid_depth.models.encoders import Monodepth2ResNetEncoder


def _tiny_dpt(**kwargs):
    return HybridDPTDecoder(**dict({'in_channels': 72, 'features': 16, 'out_channels': (16, 32, 64, 64),
                                        'head_channels': 8}, **kwargs))


@pytest.mark.parametrize('size', [(64, 96), (63, 97), (45, 61), (15, 29)])
def test_dpt_four_sigmoid_scales_any_size(size):
    """Our option: sigmoid disparity at 4 scales."""
    torch.manual_seed(0)
    dec = _tiny_dpt(head='sigmoid')
    grid = (-(-size[0] // 14), -(-size[1] // 14))
    out = dec([torch.randn(2, 72, *grid) for _ in range(4)], size)
    assert sorted(out) == [0, 1, 2, 3]
    for s, disp in out.items():
        assert disp.shape == (2, 1, max(size[0] // 2 ** s, 1), max(size[1] // 2 ** s, 1))
        assert (disp > 0).all() and (disp < 1).all()


def test_dpt_gradients_and_single_scale():
    dec = _tiny_dpt(num_scales=1, in_channels=(72, 72, 72, 80))
    feats = [torch.randn(1, c, 2, 3, requires_grad=True) for c in (72, 72, 72, 80)]
    out = dec(feats, (28, 42))
    assert list(out) == [0] and out[0].shape == (1, 1, 28, 42)
    out[0].mean().backward()
    assert all(f.grad is not None for f in feats)
    assert all(p.grad is not None for p in dec.parameters())


@pytest.mark.parametrize('size', [(56, 84), (63, 97)])
def test_dpt_official_head(size):
    """Official: one ReLU disparity at scale 0, unbounded above; the 16x-grid resize then the image size."""
    torch.manual_seed(0)
    dec = _tiny_dpt()
    assert dec.head == 'official' and dec.num_scales == 1
    grid = (-(-size[0] // 14), -(-size[1] // 14))
    feats = [torch.randn(1, 72, *grid) for _ in range(4)]
    with torch.no_grad():
        dec.heads[0].conv3.bias.fill_(2.0)  # push the output above 1: no sigmoid may clip it
        out = dec(feats, size)
    assert list(out) == [0] and out[0].shape == (1, 1, *size)
    assert out[0].min() >= 0 and out[0].max() > 1
    with pytest.raises(ValueError, match='one scale'):
        _tiny_dpt(num_scales=4)


def test_dpt_official_head_matches_the_formula():
    torch.manual_seed(0)
    dec = _tiny_dpt()
    feats = [torch.randn(1, 72, 2, 3) for _ in range(4)]
    captured = {}
    dec.heads[0].register_forward_pre_hook(lambda m, a: captured.update(path1=a[0]))
    with torch.no_grad():
        out = dec(feats, (28, 42))[0]
        h = dec.heads[0]
        x = torch.nn.functional.interpolate(h.conv1(captured['path1']), size=(32, 48), mode='bilinear',
                                            align_corners=True)
        x = torch.relu(h.conv3(torch.relu(h.conv2(x))))
        ref = torch.relu(torch.nn.functional.interpolate(x, size=(28, 42), mode='bilinear', align_corners=True))
    assert captured['path1'].shape[-2:] == (16, 24)  # path 1 at 8x the grid
    assert torch.allclose(out, ref, atol=1e-6)


def test_dpt_default_widths():
    dec = HybridDPTDecoder()
    assert dec.projects[0].in_channels == 1024 + 256
    assert [p.out_channels for p in dec.projects] == [256, 512, 1024, 1024]
    assert dec.resize_layers[0].stride == (4, 4) and dec.resize_layers[3].stride == (2, 2)


@pytest.mark.parametrize('size', [(64, 96), (63, 97)])
def test_monodepth2_encoder_decoder(size):
    torch.manual_seed(0)
    enc = Monodepth2ResNetEncoder(pretrained=None)
    assert enc.num_ch_enc == [64, 64, 128, 256, 512]
    assert [i['reduction'] for i in enc.feature_info] == [2, 4, 8, 16, 32]
    feats = enc(torch.rand(2, 3, *size))
    for f, c in zip(feats, enc.num_ch_enc):
        assert f.shape[1] == c
    dec = Monodepth2DepthDecoder(enc.num_ch_enc)
    out = dec(feats, size)
    assert out[0].shape == (2, 1, *size)
    for s in (1, 2, 3):
        assert out[s].shape[-2:] == feats[s - 1].shape[-2:]  # scale s at stride 2**s
        assert (out[s] > 0).all() and (out[s] < 1).all()


@pytest.mark.parametrize('head', ['official', 'sigmoid'])
@pytest.mark.parametrize('k', [1, 4, 8])
def test_dpt_patch_pixels_output_size(head, k):
    """Decoding at k pixels per patch: the input-resolution map scaled by k / patch_size (ceil)."""
    torch.manual_seed(0)
    dec = _tiny_dpt(head=head, num_scales=1)
    size = (128, 352)  # 10 x 26 patches of 14, the last row / column padded
    feats = [torch.randn(2, 72, 10, 26) for _ in range(4)]
    full = dec(feats, size)[0]
    assert full.shape == (2, 1, 128, 352)
    torch.testing.assert_close(dec(feats, size, patch_pixels=14)[0], full)  # k = patch size: the default decode
    out = dec(feats, size, patch_pixels=k)[0]
    assert out.shape == (2, 1, -(-128 * k // 14), -(-352 * k // 14))
    with pytest.raises(ValueError, match='patch_pixels'):
        dec(feats, size, patch_pixels=15)
