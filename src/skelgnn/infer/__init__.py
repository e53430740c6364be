"""Inference: the ``Lifter``, ONNX export, keypoint readers, layouts, tracking, plausibility."""
