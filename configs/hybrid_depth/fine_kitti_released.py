# Hybrid-depth stage 2 with the authors' released weights (Hugging Face WenyaoZhang/Hybrid-depth, checkpoints/),
# converted by tools/convert_official_checkpoint.py: the checkpoint holds every tower, so no CLIP / DINOv2 / ResNet
# weight files are read; the CLIP text tower uses QuickGELU as OpenAI's RN50 (the 'openai' tag selects it in
# fine_kitti.py). Test: tools/test.py configs/hybrid_depth/fine_kitti_released.py <converted .pth>
_base_ = ['./fine_kitti.py']
load_from = None
model = dict(
    encoder=dict(clip_pretrained=None, dino_pretrained=None),
    prompt_bank=dict(clip_model='RN50-quickgelu', clip_pretrained=None),
    pose_net=dict(pretrained=None))
