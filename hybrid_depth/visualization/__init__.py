"""Drawing helpers shared by ``tools/visualize.py`` and ``tools/browse_dataset.py``: box projection with
near-plane clipping (:mod:`.boxes`) and image panels (:mod:`.panels`)."""
from .boxes import (
    BOX_EDGES,
    Projector,
    box_corners,
    box_edges,
    box_footprints,
    clip_segments_near,
    pinhole_projector,
    project_box_edges,
    project_points,
)
from .panels import (
    GT_COLOUR,
    PRED_COLOUR,
    bev_panel,
    camera_grid,
    depth_colours,
    depth_stack,
    draw_points,
    draw_wireframes,
    resize_to_width,
    scale_pixels,
    write_png,
)

__all__ = ['BOX_EDGES', 'Projector', 'box_corners', 'box_edges', 'box_footprints', 'clip_segments_near',
           'pinhole_projector', 'project_box_edges', 'project_points', 'GT_COLOUR', 'PRED_COLOUR', 'bev_panel',
           'camera_grid', 'depth_colours', 'depth_stack', 'draw_points', 'draw_wireframes', 'resize_to_width',
           'scale_pixels', 'write_png']
