"""FB-BEV's depth-aware backward projection (BEVFormer-style spatial cross-attention, arXiv 2308.02236).

BEV queries (a learned embedding plus the LSS BEV feature of the cell, with a learned positional encoding) go
through a deformable self-attention over the BEV, then look up the depth net's context features at the
projections of their pillar reference points; each sampled point's attention weight is multiplied by the
depth-consistency weight ``one_hot(bin(d_point)) . depth_prob(pixel)`` (and by its visibility), the result is
averaged over the cameras that see the pillar, refined by an FFN and added back to the LSS BEV (FB-OCC's
structure). With a foreground mask (FRPN) only foreground cells attend to the images; every cell goes through
the layer.

Frames and the projection chain: :mod:`.pillar_projection`. The sampling kernel: :mod:`.deformable_sampling`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from .deformable_sampling import deformable_sampling
from .pillar_projection import bev_to_image, normalize_pixels, pillar_reference_points, sample_depth_consistency

__all__ = ['BEVDeformableSelfAttention', 'DepthAwareBackwardProjection', 'LearnedBEVPositionalEncoding',
           'pillar_visibility', 'pillar_weights', 'pixel_locations', 'rebatch_indices']


def pillar_visibility(locations: torch.Tensor, depth: torch.Tensor, pixel_centres: bool = False) -> torch.Tensor:
    """Args: locations: (..., 2) normalised coordinates; depth: (...) camera depth, metres; pixel_centres: our
    test (``depth > 1e-3``, inside ``[0, 1]``) instead of FB-OCC's (``depth > 1e-5``, inside ``(1e-5, 1 - 1e-5)``).
    Returns: (...) bool, in front of the camera and inside the feature map."""
    if pixel_centres:
        return (depth > 1e-3) & (locations >= 0).all(-1) & (locations <= 1).all(-1)
    eps = 1e-5
    return (depth > eps) & (locations > eps).all(-1) & (locations < 1 - eps).all(-1)


def pixel_locations(uv: torch.Tensor, depth: torch.Tensor, extent: Sequence[int],
                    pixel_centres: bool = False) -> torch.Tensor:
    """Pixels -> normalised sampling coordinates.

    Args:
        uv: (..., 2) augmented-image pixels; depth: (...) camera depth, metres; extent: ``(H_ext, W_ext)``.
        pixel_centres: ``(u + 0.5) / W_ext`` (:func:`.pillar_projection.normalize_pixels`, pixel centres at
            integers) instead of FB-OCC's ``u / W_ext``; FB-OCC divides by ``max(d, 1e-5)``, which puts points
            behind the camera far outside the map: they are placed at -10 here.

    Returns:
        (..., 2) normalised ``(x, y)``.
    """
    if pixel_centres:
        return normalize_pixels(uv, extent)
    loc = uv * uv.new_tensor([1.0 / extent[1], 1.0 / extent[0]])
    return torch.where((depth > 1e-5)[..., None], loc, torch.full_like(loc, -10.0))


def pillar_weights(uv: torch.Tensor, depth: torch.Tensor, depth_prob: torch.Tensor, extent: Sequence[int],
                   depth_bound: Sequence[float], depth_aware: bool = True,
                   depth_extent: Sequence[int] | None = None, clip_depth_bins: bool = True,
                   pixel_centres: bool = False, weight_visibility: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling locations and per-anchor weights of pillar points in every camera.

    Args:
        uv: (B, N, Q, K, 2) projections in augmented-image pixels (Q pillars, K heights).
        depth: (B, N, Q, K) camera depth, metres.
        depth_prob: (B, N, D, h, w) predicted depth distribution.
        extent: ``(H_ext, W_ext)`` pixels covered by the feature map (``stride * (h, w)``).
        depth_bound: ``(d_min, d_max, step)`` of the distribution.
        depth_aware: Multiply the depth-consistency weight in (FB-BEV); else visibility only (BEVFormer).
        depth_extent: Pixels covered by the depth map when its grid differs from the features' (default:
            ``extent``).
        clip_depth_bins: Depths beyond the bins read the edge bins (FB-OCC) instead of weight 0.
        pixel_centres: Our pixel convention (see :func:`pixel_locations`); False: FB-OCC's.
        weight_visibility: Multiply each height's visibility in (ours); False (FB-OCC): the depth consistency
            alone (bilinear with zeros outside the map) or, without ``depth_aware``, 1.

    Returns:
        ``(locations, weights)``: (B, N, Q, K, 2) normalised coordinates and (B, N, Q, K) weights.
    """
    b, n, q, k = depth.shape
    loc = pixel_locations(uv, depth, extent, pixel_centres)
    weights = torch.ones_like(depth)  # (B, N, Q, K)
    if weight_visibility:
        weights = pillar_visibility(loc, depth, pixel_centres).to(uv.dtype)
    if depth_aware:
        depth_loc = loc if depth_extent is None else pixel_locations(uv, depth, depth_extent, pixel_centres)
        consistency = sample_depth_consistency(depth_prob.flatten(0, 1), depth_loc.reshape(b * n, q * k, 2),
                                               depth.reshape(b * n, q * k), depth_bound, clip_depth_bins)
        weights = weights * consistency.view(b, n, q, k)
    return loc, weights


def rebatch_indices(hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per camera, the queries it sees, packed to the front (BEVFormer's "rebatch", vectorised).

    Args:
        hit: (M, Q) bool, query ``q`` is seen by map ``m``.

    Returns:
        ``(index, valid)``: (M, L) long query indices (the first ``hit[m].sum()`` are the hits in increasing
        order, the rest padding) and (M, L) bool, with ``L = max_m hit[m].sum()``.
    """
    counts = hit.sum(-1)  # (M,)
    length = int(counts.max()) if hit.numel() else 0
    order = torch.argsort((~hit).to(torch.int8), dim=-1, stable=True)[:, :length]  # hits first
    valid = torch.arange(length, device=hit.device)[None] < counts[:, None]
    return order, valid


class LearnedBEVPositionalEncoding(nn.Module):
    """FB-OCC's learned positional encoding of the BEV grid: ``pos(y, x) = [col_embed(x), row_embed(y)]``.

    Args:
        num_feats: Channels of each half (``embed_dims / 2``).
        bev_size: ``(Y, X)`` cells.
    """

    def __init__(self, num_feats: int, bev_size: Sequence[int]) -> None:
        super().__init__()
        self.row_embed = nn.Embedding(bev_size[0], num_feats)
        self.col_embed = nn.Embedding(bev_size[1], num_feats)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform ``[0, 1)`` (mmcv's ``Uniform`` init of ``Embedding`` layers, as upstream)."""
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self) -> torch.Tensor:
        """Returns: (Y X, 2 num_feats), cells in row-major ``(y, x)`` order."""
        ny, nx = self.row_embed.num_embeddings, self.col_embed.num_embeddings
        col = self.col_embed.weight[None].expand(ny, nx, -1)
        row = self.row_embed.weight[:, None].expand(ny, nx, -1)
        return torch.cat([col, row], dim=-1).reshape(ny * nx, -1)


def _deformable_detr_init(offsets: nn.Linear, weights: nn.Linear, num_heads: int, per_direction: int,
                          repeats: int) -> None:
    """Deformable-DETR initialisation: head ``i`` samples along direction ``2 pi i / H`` at ``1 .. per_direction``
    cells (the same for each of ``repeats`` groups, e.g. pillar heights); uniform attention."""
    nn.init.zeros_(offsets.weight)
    thetas = torch.arange(num_heads, dtype=torch.float32) * (2 * math.pi / num_heads)
    grid = torch.stack([thetas.cos(), thetas.sin()], -1)
    grid = grid / grid.abs().max(-1, keepdim=True).values  # (H, 2)
    scale = torch.arange(1, per_direction + 1, dtype=torch.float32).view(1, per_direction, 1, 1)
    bias = (grid.view(num_heads, 1, 1, 2) * scale).expand(num_heads, per_direction, repeats, 2)
    with torch.no_grad():
        offsets.bias.copy_(bias.reshape(-1))
    nn.init.zeros_(weights.weight)
    nn.init.zeros_(weights.bias)


class BEVDeformableSelfAttention(nn.Module):
    """Deformable self-attention over the BEV queries (FB-OCC's ``self_attn``: mmcv's
    ``MultiScaleDeformableAttention`` with one level): offsets and weights from ``query + pos``, values from
    ``query``, reference points at the cell centres, ``output_proj``, dropout. The residual is added by the caller.

    Args:
        embed_dims: Channels C.
        num_heads: Heads.
        num_points: Sampling points per head.
        dropout: Dropout on the output.
        use_cuda_kernel: Use mmcv's CUDA kernel for CUDA tensors.
    """

    def __init__(self, embed_dims: int, num_heads: int = 8, num_points: int = 4, dropout: float = 0.0,
                 use_cuda_kernel: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.num_points = num_points
        self.use_cuda_kernel = use_cuda_kernel
        self.sampling_offsets = nn.Linear(embed_dims, num_heads * num_points * 2)
        self.attention_weights = nn.Linear(embed_dims, num_heads * num_points)
        self.value_proj = nn.Linear(embed_dims, embed_dims)
        self.output_proj = nn.Linear(embed_dims, embed_dims)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _deformable_detr_init(self.sampling_offsets, self.attention_weights, self.num_heads, self.num_points, 1)
        for layer in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, query: torch.Tensor, pos: torch.Tensor | None, bev_size: Sequence[int],
                value_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            query: (B, Q, C) BEV queries, ``Q = Y X`` row-major.
            pos: (Q, C) positional encoding or None.
            bev_size: ``(Y, X)``.
            value_mask: (B, Q) bool cells whose values are zeroed (mmcv's ``key_padding_mask``), or None.

        Returns:
            (B, Q, C) attention output (without the residual).
        """
        b, q, c = query.shape
        ny, nx = bev_size
        value = self.value_proj(query)
        if value_mask is not None:
            value = value.masked_fill(value_mask[..., None], 0.0)
        value = value.view(b, q, self.num_heads, -1)
        q_pos = query if pos is None else query + pos[None]
        ys = (torch.arange(ny, dtype=query.dtype, device=query.device) + 0.5) / ny
        xs = (torch.arange(nx, dtype=query.dtype, device=query.device) + 0.5) / nx
        ref = torch.stack(torch.meshgrid(xs, ys, indexing='xy'), -1).view(1, q, 1, 1, 1, 2)  # (x, y) normalised
        offsets = self.sampling_offsets(q_pos).view(b, q, self.num_heads, 1, self.num_points, 2)
        locations = ref + offsets / offsets.new_tensor([nx, ny])
        attn = self.attention_weights(q_pos).view(b, q, self.num_heads, self.num_points).softmax(-1)
        spatial_shapes = torch.tensor([[ny, nx]], device=query.device)
        out = deformable_sampling(value, spatial_shapes, locations, attn.view(b, q, self.num_heads, 1, -1),
                                  self.use_cuda_kernel)  # (B, Q, C)
        return self.dropout(self.output_proj(out))


@MODELS.register_module()
class DepthAwareBackwardProjection(BaseModule):
    """FB-BEV's backward projection: one BEVFormer encoder layer with depth-aware spatial cross-attention.

    As FB-OCC's ``BackwardProjection`` (``operation_order=('self_attn', 'norm', 'cross_attn', 'norm', 'ffn',
    'norm')``): queries ``q = LSS BEV + bev_embedding``, learned positional encoding ``pos``;
    ``x = norm0(q + SA(q, pos))``, ``x = norm1(x + dropout(output_proj(SCA(x + pos))))``, ``x = norm2(x + FFN(x))``
    for **every** cell; the FRPN mask only limits which queries attend to the images. Output ``x + LSS BEV``
    (``readd``).

    Args:
        embed_dims: Channels of the BEV map (``C * Z`` of the LSS output).
        grid_config: BEVDet's ``dict(x=..., y=..., z=..., depth=(d_min, d_max, step))``, metres.
        in_channels: Channels of the sampled image features. None (FB-OCC): they are the depth net's context
            features (``embed_dims`` channels, the features LSS lifts), no input projection; an int adds a
            linear ``input_proj`` (for sampling another image level).
        feature_stride: Pixels per image-feature cell.
        depth_stride: Pixels per depth-distribution cell (default: ``feature_stride``).
        num_heights: Reference points per pillar (K).
        pillar_z_range: ``(z_lo, z_hi)`` of the pillar, metres (default: the grid's ``z`` bounds).
        num_heads: Attention heads (FB-OCC: 8).
        num_points: Sampling points per query, head and level (a multiple of ``num_heights``; FB-OCC: 8).
        ffn_channels: Hidden width of the FFN (default ``4 embed_dims``, FB-OCC).
        dropout: Dropout of the attention outputs and the FFN (FB-OCC: 0).
        self_attention: BEV deformable self-attention before the cross-attention (FB-OCC: True).
        self_attn_points: Sampling points per head of the self-attention (mmcv's default, 4).
        positional_encoding: Learned positional encoding of the queries (FB-OCC: True).
        mask_foreground_values: Zero the foreground cells' values in the self-attention, as FB-OCC's layer does
            when it is given the FRPN mask (it passes the mask as mmcv's ``key_padding_mask``, whose True means
            padding). On by default (FB-OCC's code); False: the self-attention reads every cell.
        update_background: Every cell goes through the layer (FB-OCC); False: cells outside the FRPN mask keep
            their LSS feature.
        readd: Output ``layer + LSS BEV`` (FB-OCC's ``readd=True``); False: the layer output alone.
        depth_aware: Multiply the depth-consistency weights into the attention (False: plain BEVFormer SCA).
        clip_depth_bins: Points beyond the depth bins read the edge bins (FB-OCC); False: weight 0.
        pixel_centres: Sampling coordinates ``(u + 0.5) / W_ext`` with pixel centres at integers, visible inside
            ``[0, 1]`` (ours); False (FB-OCC): ``u / W_ext``, visible inside ``(1e-5, 1 - 1e-5)``.
        weight_visibility: Multiply each pillar height's visibility into its attention weights (ours); False
            (FB-OCC): only the depth consistency (which is 0 outside the map).
        use_cuda_kernel: Use mmcv's CUDA kernel for CUDA tensors.
        init_cfg: mmengine init config.
    """

    def __init__(self, embed_dims: int, grid_config: dict, in_channels: int | None = None, feature_stride: int = 16,
                 depth_stride: int | None = None, num_heights: int = 4, pillar_z_range: Sequence[float] | None = None,
                 num_heads: int = 8, num_points: int = 8, ffn_channels: int | None = None, dropout: float = 0.0,
                 self_attention: bool = True, self_attn_points: int = 4, positional_encoding: bool = True,
                 mask_foreground_values: bool = True, update_background: bool = True, readd: bool = True,
                 depth_aware: bool = True, clip_depth_bins: bool = True, pixel_centres: bool = False,
                 weight_visibility: bool = False, use_cuda_kernel: bool = True,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        if num_points % num_heights:
            raise ValueError(f'num_points ({num_points}) must be a multiple of num_heights ({num_heights})')
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        if positional_encoding and embed_dims % 2:
            raise ValueError(f'the positional encoding needs even embed_dims, got {embed_dims}')
        self.grid_config = {k: tuple(float(x) for x in v) for k, v in grid_config.items()}
        self.embed_dims = embed_dims
        self.feature_stride = feature_stride
        self.depth_stride = depth_stride or feature_stride
        self.num_heights = num_heights
        self.num_heads = num_heads
        self.num_points = num_points
        self.mask_foreground_values = mask_foreground_values
        self.update_background = update_background
        self.readd = readd
        self.depth_aware = depth_aware
        self.clip_depth_bins = clip_depth_bins
        self.pixel_centres = pixel_centres
        self.weight_visibility = weight_visibility
        self.use_cuda_kernel = use_cuda_kernel
        z_range = pillar_z_range if pillar_z_range is not None else self.grid_config['z'][:2]
        ref = pillar_reference_points(self.grid_config['x'], self.grid_config['y'], z_range, num_heights)
        self.bev_size = tuple(ref.shape[:2])  # (Y, X)
        self.register_buffer('reference_points', ref, persistent=False)  # (Y, X, K, 3) BEV frame

        self.bev_embedding = nn.Embedding(self.bev_size[0] * self.bev_size[1], embed_dims)
        self.positional_encoding = (LearnedBEVPositionalEncoding(embed_dims // 2, self.bev_size)
                                    if positional_encoding else None)
        self.self_attn = (BEVDeformableSelfAttention(embed_dims, num_heads, self_attn_points, dropout, use_cuda_kernel)
                          if self_attention else None)
        self.self_attn_norm = nn.LayerNorm(embed_dims) if self_attention else None
        self.input_proj = nn.Linear(in_channels, embed_dims) if in_channels is not None else nn.Identity()
        self.value_proj = nn.Linear(embed_dims, embed_dims)
        self.sampling_offsets = nn.Linear(embed_dims, num_heads * num_points * 2)
        self.attention_weights = nn.Linear(embed_dims, num_heads * num_points)
        self.output_proj = nn.Linear(embed_dims, embed_dims)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        ffn_channels = ffn_channels or 4 * embed_dims
        self.ffn = nn.Sequential(nn.Linear(embed_dims, ffn_channels), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(ffn_channels, embed_dims), nn.Dropout(dropout))
        self.norm2 = nn.LayerNorm(embed_dims)
        self._init_attention()

    def _init_attention(self) -> None:
        """Deformable-DETR initialisation of both attentions (point ``j`` of each height at ``j + 1`` cells),
        Xavier projections and FFN, uniform positional encoding."""
        _deformable_detr_init(self.sampling_offsets, self.attention_weights, self.num_heads,
                              self.num_points // self.num_heights, self.num_heights)
        layers = [self.value_proj, self.output_proj, self.ffn[0], self.ffn[3]]
        if isinstance(self.input_proj, nn.Linear):
            layers.append(self.input_proj)
        for layer in layers:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.self_attn is not None:
            self.self_attn.reset_parameters()
        if self.positional_encoding is not None:
            self.positional_encoding.reset_parameters()

    def init_weights(self) -> None:
        """Keep the attention initialisation when mmengine runs ``init_weights`` (no init_cfg override)."""
        super().init_weights()
        if self.init_cfg is None:
            self._init_attention()

    def forward(self, bev: torch.Tensor, img_feats: torch.Tensor, depth_prob: torch.Tensor, cam2img: torch.Tensor,
                cam2ego: torch.Tensor, post_rots: torch.Tensor, post_trans: torch.Tensor, bda: torch.Tensor,
                fg_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Refine the LSS BEV with image features looked up at the pillars' projections.

        Args:
            bev: (B, C, Y, X) LSS BEV features, BEV (augmented ego) frame, ``x`` along the last axis.
            img_feats: (B, N, C_in, h, w) sampled image features on the ``feature_stride`` grid (the depth net's
                context features with ``in_channels=None``).
            depth_prob: (B, N, D, h_d, w_d) predicted depth distribution on the ``depth_stride`` grid.
            cam2img, cam2ego, post_rots, post_trans, bda: camera matrices as packed by BEVDet (see
                :func:`.pillar_projection.bev_to_image`; ``cam2ego`` is camera -> key ego, per-camera
                ego-motion compensated).
            fg_mask: (B, Y, X) bool foreground cells (FRPN): only they attend to the images; None: every cell.

        Returns:
            (B, C, Y, X): the layer output, plus ``bev`` with ``readd``.
        """
        refined = self.refine(bev, img_feats, depth_prob, cam2img, cam2ego, post_rots, post_trans, bda, fg_mask)
        if fg_mask is not None and not self.update_background:
            keep = fg_mask[:, None]
            refined = torch.where(keep, refined, torch.zeros_like(refined) if self.readd else bev)
        return bev + refined if self.readd else refined

    def refine(self, bev: torch.Tensor, img_feats: torch.Tensor, depth_prob: torch.Tensor, cam2img: torch.Tensor,
               cam2ego: torch.Tensor, post_rots: torch.Tensor, post_trans: torch.Tensor, bda: torch.Tensor,
               fg_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder layer's output for every cell (arguments as :meth:`forward`).

        Returns:
            (B, C, Y, X).
        """
        b, c, ny, nx = bev.shape
        if (ny, nx) != self.bev_size or c != self.embed_dims:
            raise ValueError(f'BEV map {tuple(bev.shape[1:])} does not match ({self.embed_dims}, *{self.bev_size})')
        x = bev.flatten(2).transpose(1, 2) + self.bev_embedding.weight[None]  # (B, Q, C)
        pos = self.positional_encoding() if self.positional_encoding is not None else None  # (Q, C)
        if self.self_attn is not None:
            value_mask = fg_mask.flatten(1) if self.mask_foreground_values and fg_mask is not None else None
            x = self.self_attn_norm(x + self.self_attn(x, pos, self.bev_size, value_mask))
        slots = self.cross_attention(x if pos is None else x + pos[None], img_feats, depth_prob, cam2img, cam2ego,
                                     post_rots, post_trans, bda, fg_mask)
        x = self.norm1(x + self.dropout(self.output_proj(slots)))
        x = self.norm2(x + self.ffn(x))
        return x.transpose(1, 2).reshape(b, c, ny, nx)

    def cross_attention(self, query: torch.Tensor, img_feats: torch.Tensor, depth_prob: torch.Tensor,
                        cam2img: torch.Tensor, cam2ego: torch.Tensor, post_rots: torch.Tensor,
                        post_trans: torch.Tensor, bda: torch.Tensor,
                        fg_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Depth-aware spatial cross-attention, averaged over the cameras that see each pillar.

        Args:
            query: (B, Q, C) BEV queries (with the positional encoding), ``Q = Y * X`` in row-major ``(y, x)``
                order.
            Others: as :meth:`forward`.

        Returns:
            (B, Q, C) attention output before ``output_proj`` (zero for queries that do not attend).
        """
        b, num_cams, c_in, h, w = img_feats.shape
        q_count, k = query.shape[1], self.num_heights
        ref = self.reference_points.reshape(1, -1, 3).expand(b, -1, 3)  # (B, Q K, 3)
        uv, depth = bev_to_image(ref, cam2img, cam2ego, post_rots, post_trans, bda)  # (B, N, Q K, 2), (B, N, Q K)
        extent = (h * self.feature_stride, w * self.feature_stride)
        depth_extent = (depth_prob.shape[-2] * self.depth_stride, depth_prob.shape[-1] * self.depth_stride)
        uv = uv.view(b * num_cams, q_count, k, 2)
        depth = depth.view(b * num_cams, q_count, k)
        visible = pillar_visibility(pixel_locations(uv, depth, extent, self.pixel_centres), depth,
                                    self.pixel_centres).any(-1).view(b, num_cams, q_count)
        hit = visible
        if fg_mask is not None:
            hit = visible & fg_mask.reshape(b, 1, q_count)
        count = hit.sum(1).clamp(min=1)  # (B, Q) cameras per attending pillar
        if fg_mask is not None:
            # a camera without foreground pillars still attends from its first visible one (as upstream), so
            # every parameter takes part in the graph (distributed training)
            idle = ~hit.any(-1) & visible.any(-1)  # (B, N)
            first = visible.to(torch.int8).argmax(-1)  # (B, N)
            hit = hit | (F.one_hot(first, q_count).bool() & idle[..., None])
        index, valid = rebatch_indices(hit.flatten(0, 1))  # (B N, L): the pillars each camera sees
        slots = query.new_zeros(b, q_count, self.embed_dims)
        if index.shape[1] == 0:
            return slots
        length = index.shape[1]
        batch_of = torch.arange(b, device=query.device).repeat_interleave(num_cams)  # (B N,)
        q_sel = query[batch_of[:, None], index]  # (B N, L, C)
        uv_sel = torch.gather(uv, 1, index[..., None, None].expand(-1, -1, k, 2))  # (B N, L, K, 2)
        depth_sel = torch.gather(depth, 1, index[..., None].expand(-1, -1, k))  # (B N, L, K)
        loc_sel, w_sel = pillar_weights(uv_sel[:, None], depth_sel[:, None], depth_prob.flatten(0, 1)[:, None],
                                        extent, self.grid_config['depth'], self.depth_aware, depth_extent,
                                        self.clip_depth_bins, self.pixel_centres, self.weight_visibility)
        loc_sel, w_sel = loc_sel[:, 0], w_sel[:, 0] * valid[..., None].to(w_sel.dtype)  # (B N, L, K, 2), (B N, L, K)

        value = self.value_proj(self.input_proj(img_feats.flatten(3).transpose(2, 3)))  # (B, N, h w, C)
        value = value.reshape(b * num_cams, h * w, self.num_heads, -1)
        heads, per_height = self.num_heads, self.num_points // k
        offsets = self.sampling_offsets(q_sel).view(b * num_cams, length, heads, per_height, k, 2)
        offsets = offsets / offsets.new_tensor([w, h])  # feature cells -> normalised
        locations = loc_sel[:, :, None, None] + offsets  # (B N, L, H, P/K, K, 2)
        attn = self.attention_weights(q_sel).view(b * num_cams, length, heads, self.num_points).softmax(-1)
        attn = attn.view(b * num_cams, length, heads, per_height, k) * w_sel[:, :, None, None]
        spatial_shapes = torch.tensor([[h, w]], device=query.device)
        out = deformable_sampling(value, spatial_shapes,
                                  locations.reshape(b * num_cams, length, heads, 1, self.num_points, 2),
                                  attn.reshape(b * num_cams, length, heads, 1, self.num_points),
                                  self.use_cuda_kernel)  # (B N, L, C)
        out = out * valid[..., None].to(out.dtype)
        flat_index = (batch_of[:, None] * q_count + index).reshape(-1)  # (B N L,) into (B Q)
        slots = slots.view(b * q_count, -1).index_add(0, flat_index, out.reshape(-1, self.embed_dims))
        return slots.view(b, q_count, self.embed_dims) / count[..., None].to(slots.dtype)
