"""ONNX deployment of BEVDet: images -> the head's dense maps, with the camera-dependent pooling plan as inputs.

As BEVDet's own TensorRT path (``bev_pool_v2`` fed precomputed ranks and intervals), the graph holds every
learned module and the camera geometry stays outside it:

- outside (:func:`camera_inputs`, per sample or once per fixed calibration): the frustum points in the BEV frame
  (:func:`.view_transformer.frustum_to_bev`), their voxels (:func:`.bev_pool.voxel_ranks`) and the pooling plan
  of the ``K`` points inside the grid, sorted by voxel: ``point_index`` (into the flat ``(F * D,)`` depth
  probabilities), ``pixel_index`` (into the flat ``(F,)`` context features), and for each of the ``U`` occupied
  voxels its ``voxel_index`` (into the flat ``(Z * Y * X,)`` BEV) and ``interval_ends`` (its last point in the
  sorted order); plus the depth net's 27-d camera descriptor;
- inside (:class:`BEVDetOnnxWrapper`): image backbone (+ neck), depth net, softmax, the pooling, BEV encoder and
  the head's convolutions. The pooling is a segment sum: ``v = depth[point_index] * context[pixel_index]``,
  a ``CumSum`` over the sorted points in fp64, the differences at ``interval_ends``, and one ``ScatterND`` into
  the BEV at the *unique* ``voxel_index`` (standard ONNX ops, no custom op). Not
  ``ScatterND(reduction='add')`` over the points: onnxruntime's CPU kernel splits the updates across threads
  without guarding repeated indices, and on the demo checkpoint it lost updates now and then (an output off by
  0.12 on one run of the same inputs, exact on the next).
  Outputs: ``task{t}.{name}`` (1, *, Y, X) for every task and regression map, in the head's order.

Box decoding, NMS and the ego -> LiDAR conversion stay in Python: :func:`decode_dense_outputs` calls the head's
own ``predict_by_feat`` (the code ``tools/test.py`` runs). Batch size 1 (one sample of ``N`` cameras).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import nn

from .bev_pool import voxel_ranks
from .detector import BEVDet
from .frames import ego_to_lidar_boxes
from .view_transformer import BEVDetLSSViewTransformer, camera_params_vector, frustum_to_bev

__all__ = ['CAMERA_INPUTS', 'INPUT_NAMES', 'MIN_OPSET', 'ExportError', 'BEVDetOnnxWrapper', 'camera_inputs',
           'check_exportable', 'decode_dense_outputs', 'export_onnx', 'output_names', 'pytorch_dense_outputs',
           'ring_rig']

CAMERA_INPUTS = ('cam_params', 'point_index', 'pixel_index', 'interval_ends', 'voxel_index')
INPUT_NAMES = ('imgs', *CAMERA_INPUTS)
MIN_OPSET = 14  # CumSum on fp64 (opset 14), ScatterND


class ExportError(ValueError):
    """A model or input the ONNX path cannot take; the message names the module or value and why."""


def check_exportable(detector: nn.Module) -> None:
    """Refuse, in one message, a detector whose modules the export graph does not contain.

    The graph is built from BEVDet's sub-modules (image backbone/neck, LSS view transformer, BEV encoder,
    head); a detector with further modules on the path to the head (FB-BEV's FRPN and depth-aware backward
    projection, temporal fusion) would silently lose them.

    Raises:
        ExportError: naming the first such module and the reason.
    """
    if not isinstance(detector, BEVDet):
        raise ExportError(f'{type(detector).__name__}: only BEVDet detectors export (images -> LSS -> BEV '
                          'encoder -> CenterHead)')
    if getattr(detector, 'backward_projection', None) is not None:
        raise ExportError(
            f'{type(detector).__name__}.backward_projection ({type(detector.backward_projection).__name__}) cannot '
            'be exported: its sampling locations (BEV pillars projected into every camera, depth-bin weights) '
            'depend on the calibration and its FRPN foreground mask selects a data-dependent set of queries; '
            'both would have to become precomputed graph inputs like the LSS pooling indices, which this '
            'exporter does not implement')
    if getattr(detector, 'num_adjacent', 0):
        raise ExportError(f'{type(detector).__name__}: temporal fusion (num_adjacent > 0) is not exported')
    vt = detector.img_view_transformer
    if type(vt) is not BEVDetLSSViewTransformer:
        raise ExportError(f'img_view_transformer ({type(vt).__name__}): only BEVDetLSSViewTransformer exports')


def camera_inputs(view_transformer: BEVDetLSSViewTransformer, cam2img: np.ndarray, cam2ego: np.ndarray,
                  post_rots: np.ndarray, post_trans: np.ndarray, bda: np.ndarray) -> dict[str, np.ndarray]:
    """The camera-dependent graph inputs of one sample (its calibration, image and BEV augmentation).

    Args:
        view_transformer: The detector's view transformer (frustum, grid, voxel index convention).
        cam2img: (N, 3, 3) intrinsics; cam2ego (N, 4, 4) camera -> key ego; post_rots (N, 3, 3) and post_trans
            (N, 3) image augmentation; bda (3, 3) BEV augmentation (as the sample's metainfo).

    Returns:
        ``cam_params`` (N, 27) float32 and the int64 pooling plan: for the K frustum points inside the BEV grid,
        sorted by voxel (stably, so pixel-major within a voxel), ``point_index`` (K,) in ``[0, F * D)`` and
        ``pixel_index`` (K,) in ``[0, F)``, ``F = N h w``; for the U occupied voxels, ``voxel_index`` (U,) in
        ``[0, Z * Y * X)`` (unique, ascending) and ``interval_ends`` (U,) the position of each voxel's last
        point in the sorted order.
    """
    vt = view_transformer
    cams = [torch.as_tensor(np.asarray(m, dtype=np.float32))[None] for m in (cam2img, cam2ego, post_rots,
                                                                            post_trans)]
    bda_t = torch.as_tensor(np.asarray(bda, dtype=np.float32))[None]
    with torch.no_grad():
        points = frustum_to_bev(vt.frustum.cpu(), *cams, bda_t)  # (1, N, D, h, w, 3)
        ranks = voxel_ranks(points, vt.grid_lower.cpu(), vt.grid_interval.cpu(), torch.tensor(vt.grid_size),
                            vt.voxel_index)  # (F * D,) pixel-major
        params = camera_params_vector(*cams, bda_t)[0]  # (N, 27)
    num_voxels = int(np.prod(vt.grid_size))
    point_index = torch.nonzero(ranks < num_voxels).squeeze(1)  # (K,)
    voxels, order = torch.sort(ranks[point_index], stable=True)
    point_index = point_index[order]
    last = torch.ones_like(voxels, dtype=torch.bool)  # (K,) the last point of each voxel's interval
    last[:-1] = voxels[1:] != voxels[:-1]
    interval_ends = torch.nonzero(last).squeeze(1)  # (U,)
    return dict(cam_params=params.numpy().astype(np.float32), point_index=point_index.numpy(),
                pixel_index=(point_index // vt.num_depth).numpy(), interval_ends=interval_ends.numpy(),
                voxel_index=voxels[interval_ends].numpy())


def ring_rig(num_cams: int, input_size: Sequence[int], focal: float = 0.6, height: float = 1.5
             ) -> dict[str, np.ndarray]:
    """A nominal rig without data (tests, benchmarks): ``num_cams`` level cameras evenly around the ego.

    Args:
        num_cams: N.
        input_size: ``(H, W)`` of the network input; the principal point is its centre, the focal length
            ``focal * W`` pixels.
        focal: Focal length as a fraction of the width.
        height: Camera height above the ego origin, metres.

    Returns:
        ``cam2img`` (N, 3, 3), ``cam2ego`` (N, 4, 4), ``post_rots`` (N, 3, 3) identity, ``post_trans`` (N, 3)
        zero, ``bda`` (3, 3) identity, float32.
    """
    h, w = input_size
    cam2img = np.array([[focal * w, 0, (w - 1) / 2], [0, focal * w, (h - 1) / 2], [0, 0, 1]], np.float32)
    optical_to_ego = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], np.float32)  # x right, y down, z forward
    cam2ego = np.tile(np.eye(4, dtype=np.float32), (num_cams, 1, 1))
    for i in range(num_cams):
        a = 2 * np.pi * i / num_cams
        yaw = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], np.float32)
        cam2ego[i, :3, :3] = yaw @ optical_to_ego
        cam2ego[i, 2, 3] = height
    eye = np.tile(np.eye(3, dtype=np.float32), (num_cams, 1, 1))
    return dict(cam2img=np.tile(cam2img, (num_cams, 1, 1)), cam2ego=cam2ego, post_rots=eye,
                post_trans=np.zeros((num_cams, 3), np.float32), bda=np.eye(3, dtype=np.float32))


def output_names(head: nn.Module) -> list[str]:
    """``task{t}.{map}`` for every task and map of a ``CenterHead``, in its forward order."""
    names = []
    for t, task_head in enumerate(head.task_heads):
        names += [f'task{t}.{k}' for k in task_head.heads]
    return names


class BEVDetOnnxWrapper(nn.Module):
    """The exported graph: ``(imgs, cam_params, point_index, pixel_index, voxel_index) -> dense head maps``.

    Built from the detector's sub-modules (not its ``extract_feat``), so the graph is exactly: backbone,
    neck, depth net, softmax, index pooling, BEV encoder, head.

    Args:
        detector: A BEVDet detector in eval mode (:func:`check_exportable` passes).
    """

    def __init__(self, detector: BEVDet) -> None:
        super().__init__()
        check_exportable(detector)
        self.img_backbone = detector.img_backbone
        self.img_neck = detector.img_neck
        self.view_transformer = detector.img_view_transformer
        self.bev_backbone = detector.img_bev_encoder_backbone
        self.bev_neck = detector.img_bev_encoder_neck
        self.head = detector.pts_bbox_head
        self.names = output_names(self.head)

    def forward(self, imgs: torch.Tensor, cam_params: torch.Tensor, point_index: torch.Tensor,
                pixel_index: torch.Tensor, interval_ends: torch.Tensor, voxel_index: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        """Args:
            imgs: (N, 3, H, W) preprocessed images of one sample (the data preprocessor's output).
            cam_params, point_index, pixel_index, interval_ends, voxel_index: From :func:`camera_inputs`.

        Returns:
            The head maps (1, *, Y, X) in :func:`output_names` order.
        """
        vt = self.view_transformer
        x = self.img_backbone(imgs)
        if self.img_neck is not None:
            x = self.img_neck(x)
        feats = list(x) if isinstance(x, (list, tuple)) else [x]
        depth_logits, context = vt.depth_net(feats, cam_params, imgs)[:2]  # (the hybrid net adds its prior)
        depth = depth_logits.softmax(dim=1).permute(0, 2, 3, 1).reshape(-1)  # (N h w D,) pixel-major
        context = context.permute(0, 2, 3, 1).reshape(-1, vt.out_channels)  # (N h w, C)
        nx, ny, nz = vt.grid_size
        values = depth[point_index].unsqueeze(1) * context[pixel_index]  # (K, C), sorted by voxel
        ends = values.double().cumsum(0)[interval_ends]  # (U, C) prefix sums at each voxel's last point
        sums = torch.cat([ends[:1], ends[1:] - ends[:-1]]).to(values.dtype)  # (U, C) per-voxel sums
        bev = context.new_zeros(nz * ny * nx, vt.out_channels).index_put((voxel_index,), sums)
        bev = bev.view(1, nz, ny, nx, vt.out_channels)
        bev = bev.permute(0, 1, 4, 2, 3) if vt.bev_channel_order == 'z_major' else bev.permute(0, 4, 1, 2, 3)
        bev = self.bev_neck(self.bev_backbone(bev.reshape(1, -1, ny, nx)))
        preds = self.head([bev])
        return tuple(task[0][k.split('.', 1)[1]] for task, names in
                     zip(preds, _group(self.names)) for k in names)


def _group(names: Sequence[str]) -> list[list[str]]:
    """Output names grouped by task (``task{t}.``)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split('.', 1)[0], []).append(n)
    return list(groups.values())


def decode_dense_outputs(head: nn.Module, outputs: dict[str, np.ndarray | torch.Tensor], metainfo: dict
                         ) -> InstanceData:
    """The head's own decode + Scale-NMS on dense maps, then ego -> LiDAR (as ``BEVDet.predict``).

    Args:
        head: The detector's ``BEVDetCenterHead`` (its ``test_cfg`` and box coder).
        outputs: ``task{t}.{map}`` -> (1, *, Y, X) maps.
        metainfo: The sample's metainfo (``box_type_3d``, ``lidar2ego``, ``bda``).

    Returns:
        ``InstanceData`` with ``bboxes_3d`` (LiDAR frame), ``scores_3d``, ``labels_3d``.
    """
    if not np.allclose(np.asarray(metainfo['bda']), np.eye(3)):
        raise ExportError(f'sample {metainfo.get("token")}: decoding expects no BEV augmentation')
    preds = []
    for names in _group(output_names(head)):
        preds.append([{n.split('.', 1)[1]: torch.as_tensor(np.asarray(outputs[n])) for n in names}])
    with torch.no_grad():
        res = head.predict_by_feat(preds, [metainfo])[0]
    res.bboxes_3d = ego_to_lidar_boxes(res.bboxes_3d, metainfo['lidar2ego'])
    return res


def export_onnx(detector: BEVDet, imgs: torch.Tensor, cameras: dict[str, np.ndarray], path: str,
                opset: int = 18) -> list[str]:
    """Export ``detector`` (eval mode) to ``path`` with torch's dynamo exporter; ``K`` (pooled points) and ``U``
    (occupied voxels) are dynamic axes; the image size and the camera count are fixed by the example.

    Args:
        detector: A BEVDet detector in eval mode.
        imgs: (N, 3, H, W) preprocessed example images.
        cameras: :func:`camera_inputs` of the example calibration.
        path: Output ``.onnx`` file (weights inside the file).
        opset: ONNX opset, >= :data:`MIN_OPSET` (default 18).

    Returns:
        The output names (:func:`output_names`).
    """
    if opset < MIN_OPSET:
        raise ExportError(f'--opset {opset}: the pooling needs CumSum on fp64 (opset >= {MIN_OPSET})')
    wrapper = BEVDetOnnxWrapper(detector).eval()
    args = (imgs, *(torch.as_tensor(cameras[k]) for k in CAMERA_INPUTS))
    points, voxels = torch.export.Dim('K'), torch.export.Dim('U')
    with torch.no_grad():
        torch.onnx.export(wrapper, args, path, input_names=list(INPUT_NAMES), output_names=wrapper.names,
                          opset_version=opset, dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes=(None, None, {0: points}, {0: points}, {0: voxels}, {0: voxels}))
    return wrapper.names


@torch.no_grad()
def pytorch_dense_outputs(detector: BEVDet, imgs: torch.Tensor, cams: dict[str, torch.Tensor]
                          ) -> dict[str, np.ndarray]:
    """The reference: the same maps through the view transformer's own forward (its CSR ``bev_pool``).

    Args:
        detector: The BEVDet detector (eval mode).
        imgs: (N, 3, H, W) preprocessed images of one sample.
        cams: ``cam2img`` (1, N, 3, 3), ``cam2ego``, ``post_rots``, ``post_trans``, ``bda`` (as
            ``BEVDet.camera_tensors``).

    Returns:
        ``task{t}.{map}`` -> (1, *, Y, X) float32 arrays.
    """
    x = detector.img_backbone(imgs)
    if detector.img_neck is not None:
        x = detector.img_neck(x)
    feats = list(x) if isinstance(x, (list, tuple)) else [x]
    bev, _ = detector.img_view_transformer(feats, images=imgs, **cams)
    bev = detector.img_bev_encoder_neck(detector.img_bev_encoder_backbone(bev))
    preds = detector.pts_bbox_head([bev])
    return {f'task{t}.{k}': v.numpy() for t, task in enumerate(preds) for k, v in task[0].items()}
