"""Training of rtstyle's transform networks: data, perceptual loss, loop, checkpoints, export."""
