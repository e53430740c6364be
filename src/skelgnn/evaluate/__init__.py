"""Evaluation: the CMU benchmark protocol, MPI-INF-3DHP, cross-camera, speed."""
