"""Places: visible presence of criminals in public space per district (the seventh risk factor).

Each week a district's visibility moves towards its target: the district's baseline × place
actions (EST, guards, lighting: `model.place_mult`, set by the interventions) + active network
members present per 1,000 youths × `visibility_per_member`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Places:
    """Owns `visibility` (one value per district, in [0, 1])."""

    def __init__(self, model: Any):
        self.visibility = model.city.visibility.copy()
        self._youths = None

    def step(self, model: Any) -> None:
        p, net, d = model.p, model.network, model.city.n_districts
        present = net.active & net.members
        members = np.bincount(net.district[present], minlength=d)
        if self._youths is None or model.week % 52 == 0:  # districts change only at school years
            self._youths = np.bincount(model.pop.district, minlength=d)
        youths = self._youths
        target = model.city.visibility * model.place_mult + \
            p["visibility_per_member"] * members * 1000.0 / np.maximum(youths, 1)
        self.visibility += p["visibility_relaxation"] * (np.clip(target, 0, 1) - self.visibility)
