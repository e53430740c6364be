"""Motion: root trajectory, world frame, smoothing, the motion pipeline, BVH/JSON/CSV export (and
a BVH read back by Blender's own importer)."""
