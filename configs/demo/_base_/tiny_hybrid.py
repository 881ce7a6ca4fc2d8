# The tiny random-init Hybrid-depth parts every demo shrinks to, stated once for the configs (their Python twins,
# hybrid_depth.models.TINY_CLIP_CFG and TINY_ENCODER_KWARGS, serve the tests and the backbone's preset='tiny';
# tests/configs/test_detector_demo_configs.py checks that they agree).
tiny_clip = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
tiny_encoder = dict(clip_pretrained=None, clip_model_cfg=tiny_clip, dino_model='vit_small_patch14_dinov2',
                    dino_pretrained=None, dino_kwargs=dict(img_size=56, embed_dim=48, depth=4, num_heads=2),
                    dino_indices=[0, 1, 2, 3], clip_align_channels=16)
tiny_prompt_bank = dict(clip_pretrained=None, clip_model_cfg=tiny_clip)
# our sigmoid-head option: with PyTorch's default init the official single ReLU output is 0 everywhere at init for
# about half the seeds (the last conv's bias outweighs its input; README "Why the official head starts dead");
# head='official' with disp_bias_init=0.5 starts alive for seeds 0-4, not yet compared at a real budget; the
# full-size configs keep the official head (the authors' weights use it)
tiny_decoder = dict(features=32, out_channels=[32, 64, 128, 128], head='sigmoid')
# the fine stage's tiny model (16 depth tokens, 4 decoder scales, random-init PoseNet)
tiny_fine = dict(encoder=tiny_encoder, prompt_bank=dict(tiny_prompt_bank, num_depth_tokens=16),
                 decoder=dict(tiny_decoder, num_scales=4), pose_net=dict(pretrained=None))
