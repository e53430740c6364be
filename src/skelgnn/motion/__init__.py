"""Motion: root trajectory, world frame, smoothing, the motion pipeline, BVH/JSON/CSV export."""
