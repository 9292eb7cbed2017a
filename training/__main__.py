"""``python -m realtime_style.training`` and ``torchrun --nproc_per_node=N -m realtime_style.training``."""

import os
import sys

# On a shared CPU, spinning OpenMP threads collapse when other processes compete for the cores
# (measured here: 4x slower at 2 threads under load); sleeping waits cost nothing when idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from realtime_style.training.cli import main  # noqa: E402  (after the OpenMP setting, before torch loads)

sys.exit(main())
