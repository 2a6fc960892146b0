"""Training: the one loop and its checkpoints (loop.py), torchrun helpers (dist.py), the thread default (threads.py)."""
