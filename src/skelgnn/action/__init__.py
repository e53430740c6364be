"""Skeleton action recognition downstream of the lifter.

Clips of 3D skeletons (ground truth, or lifted from 2D by a shipped checkpoint) are classified
by a D-HCSF encoder or an ST-GCN-style baseline.

Modules: :mod:`~skelgnn.action.clips` (windows and labels), :mod:`~skelgnn.action.sources`
(where the 3D comes from), :mod:`~skelgnn.action.models` (classifiers),
:mod:`~skelgnn.action.training` (train / score), :mod:`~skelgnn.action.ntu` (NTU RGB+D
``.skeleton`` reader), :mod:`~skelgnn.action.cli` (``skelgnn action``).
"""
