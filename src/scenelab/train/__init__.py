"""Training: the loop, the learning-rate schedule, checkpoints, logs and DDP."""
