"""What a checkpoint that arrived compressed means for its numbers, and which published results sit beside it.

A GGUF file is already quantized as distributed: its runs' *kept* is relative to that checkpoint, never to the
original model. The pages say so wherever such a run is shown (``lineage_note``), and put results published for a
related checkpoint beside the model's own (``related_models``): shown side by side with how they differ, never
used as a baseline.
"""

from __future__ import annotations

import json

from .tables import checkpoint_short

# Published results of a related checkpoint, shown beside a derived model's own numbers (on its model page), never
# compared with them as a baseline. Keyed by the base model a lineage names (model.lineage.base): the checkpoint
# published elsewhere (its model id in runs/), how it differs from that base, and its precision as published. A
# derived model's own base is always related (nothing to declare); this mapping adds the siblings. One entry per
# pair, checked by hand: no name-prefix guessing (SmolLM2-135M and SmolLM2-135M-Instruct are different weights).
RELATED_CHECKPOINTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # BEAR's leaderboard publishes the base model; the GGUF package quantizes the Instruct model
    "HuggingFaceTB/SmolLM2-135M-Instruct": (("HuggingFaceTB/SmolLM2-135M", "base vs Instruct", "bf16"),),
}

RELATION_VERB = {"quantized": ("quantized", "unquantized"), "pruned": ("pruned", "unpruned")}


def tensor_mix(tensor_types: str | dict | None) -> str | None:
    """'79% of weights Q4_1, 21% Q8_0, <1% F32' from the weights per GGML type a GGUF file holds."""
    if not tensor_types:
        return None
    counts = json.loads(tensor_types) if isinstance(tensor_types, str) else dict(tensor_types)
    total = sum(counts.values())
    if not total:
        return None
    parts = []
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        share = n / total
        pct = "<1%" if round(100 * share) < 1 else f"{100 * share:.0f}%"
        parts.append(f"{pct} of weights {name}" if not parts else f"{pct} {name}")
    return ", ".join(parts)


def lineage_note(r: dict) -> str | None:
    """One sentence for a run (or row) of a derived checkpoint: what it arrived with and what 'kept' is relative to.
    ``r`` holds the runs columns checkpoint_label, tensor_types, base_model_id, derived_by. Plain text: escape it."""
    label, base, relation = r.get("checkpoint_label"), r.get("base_model_id"), r.get("derived_by")
    if not label:
        if base and relation:
            return (f"{relation.capitalize()} from {base}; as distributed it is compared with {base}'s own "
                    "uncompressed baseline where one exists.")
        return None
    verb, un = RELATION_VERB.get(relation or "", ("compressed", "uncompressed"))
    mix = tensor_mix(r.get("tensor_types"))
    what = checkpoint_short(label) + (f": {mix}" if mix else "")
    original = f"its {un} base model {base}" if base else f"the {un} original"
    return f"Already {verb} as distributed ({what}); 'kept' is relative to that checkpoint, not to {original}."


def related_models(base: str | None) -> list[tuple[str, str]]:
    """(model id, how it differs) of the checkpoints whose published results go beside a model derived from
    ``base``: the base itself, then the declared siblings."""
    if not base:
        return []
    return [(base, "its base model before the checkpoint's compression")] + [
        (mid, differs) for mid, differs, _precision in RELATED_CHECKPOINTS.get(base, ())]


def related_caveat(base: str, related: str, checkpoint: str | None) -> str:
    """'a different checkpoint: base vs Instruct, bf16 vs Q4_1'."""
    ours = checkpoint_short(checkpoint) if checkpoint else None
    ours = ours.removeprefix("GGUF ") if ours else None
    for mid, differs, precision in RELATED_CHECKPOINTS.get(base, ()):
        if mid == related:
            return "a different checkpoint: " + ", ".join([differs] + ([f"{precision} vs {ours}"] if ours else []))
    return "the base model before the checkpoint's compression" + (f" (not {ours})" if ours else "")


def derived_from(related: str) -> list[str]:
    """Base models whose derived checkpoints list ``related`` as a sibling (for the note on its own page)."""
    return sorted(base for base, sibs in RELATED_CHECKPOINTS.items() if any(mid == related for mid, _d, _p in sibs))
