"""Training: the loop, experiment configs, distributed data parallel."""
