"""Semi-structured N:M magnitude pruning: keep the n largest |w| in every m consecutive inputs."""

from __future__ import annotations

from typing import Literal

from ..spec import Method, NMParams


class NMStep(NMParams):
    criterion: Literal["n:m"]
    nm_required = True


def run(ctx, modules, step: NMStep) -> None:
    from ..prune import prune_n_m

    prune_n_m(modules, step.n, step.m)


ORDER = 13
METHODS = (Method(
    kind="prune", name="n:m", params=NMStep, run=run, title="N:M magnitude", label_name="N:M", short_title="N:M",
    summary="In every m consecutive input weights of each output unit, keeps the n of largest magnitude "
            "(2:4 is the pattern sparse tensor cores accelerate).",
    reference="Mishra et al. 2021 (NVIDIA 2:4)", example="prune:criterion=n:m,n=2,m=4"),)
