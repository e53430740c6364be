"""The D-HCSF layer of Zeng et al. (ICCV 2021) and its parts: ``dhcsf`` (HCSF, DynamicGraph,
DHCSF), the hop graphs, the per-joint projections, hop grading and the hop analysis."""
