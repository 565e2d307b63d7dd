"""The per-stage checks: the shared setup and batch plan, init and data contracts, the forward
stress probe, the gradients' conditioning, and the noise floor of the training stages."""
