"""Video: detection-to-3D pipeline and rendering."""
