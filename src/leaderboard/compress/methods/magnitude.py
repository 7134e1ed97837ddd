"""Unstructured magnitude (L1) pruning: the smallest |w| of the scope, globally or per layer."""

from __future__ import annotations

from typing import Literal

from ..spec import Method, PruneParams


class L1Step(PruneParams):
    criterion: Literal["l1"]
    local_only = False


def run(ctx, modules, step: L1Step) -> None:
    from ..prune import prune_global_l1, prune_local_l1

    (prune_global_l1 if step.granularity == "global" else prune_local_l1)(modules, step.sparsity)


ORDER = 10
METHODS = (Method(
    kind="prune", name="l1", params=L1Step, run=run, title="Magnitude (L1)",
    label_name="magnitude (L1)", short_title="magnitude (L1)", heatmap="global",
    summary="Zeroes the weights of smallest absolute value, over the whole scope (global) or within each layer "
            "(local). Global ranking never concatenates the weights: the threshold is found by chunked "
            "histogram refinement, then selected exactly.",
    reference="Han et al. 2015; the papers' 'magnitude' baseline", example="prune:criterion=l1,sparsity=0.5,scope=all"),)
