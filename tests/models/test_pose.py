import torch

from hybrid_depth.geometry import transformation_from_parameters
from hybrid_depth.models.encoders import build_timm_resnet
from hybrid_depth.models.pose import HybridPoseNet


def test_posenet_shapes_and_small_init():
    torch.manual_seed(0)
    net = HybridPoseNet(pretrained=None, num_frames=2)
    assert net.encoder.model.conv1.in_channels == 6
    a, b = torch.rand(3, 3, 64, 96), torch.rand(3, 3, 64, 96)
    axis_angle, translation = net(a, b)
    assert axis_angle.shape == (3, 2, 3) and translation.shape == (3, 2, 3)
    assert axis_angle.abs().max() < 0.05  # 0.01 output scaling keeps initial poses near identity
    t = transformation_from_parameters(axis_angle[:, 0], translation[:, 0])
    assert t.shape == (3, 4, 4)


def test_posenet_first_conv_from_3ch_weights(tmp_path):
    torch.manual_seed(0)
    resnet = build_timm_resnet(18, None, features_only=False)
    torch.save(resnet.state_dict(), tmp_path / 'resnet18.pth')
    net = HybridPoseNet(pretrained=str(tmp_path / 'resnet18.pth'))
    w3 = resnet.conv1.weight
    w6 = net.encoder.model.conv1.weight
    assert torch.allclose(w6, torch.cat([w3, w3], dim=1) / 2)
    assert torch.equal(net.encoder.model.layer4[1].conv2.weight, resnet.layer4[1].conv2.weight)


def test_posenet_input_normalisation_option():
    """Official Hybrid-depth feeds the pair raw (default); Monodepth2 normalises (x - 0.45) / 0.225."""
    seen = {}
    for norm in (False, True):
        net = HybridPoseNet(pretrained=None, normalize_input=norm)
        assert net.decoder.num_frames == 2  # PoseDecoder(num_frames_to_predict_for=2), as both official codes
        net.encoder.model.register_forward_pre_hook(lambda m, a, norm=norm: seen.__setitem__(norm, a[0]))
        a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
        net(a, b)
        pair = torch.cat([a, b], dim=1)
        assert torch.allclose(seen[norm], (pair - 0.45) / 0.225 if norm else pair)
