"""Pure steps between a checkpoint's tensors and the model: key remap, then a strict comparison report.

:func:`remap_state_dict` never copies tensor data; it returns a new dict (the input is left untouched):
  * drops MASt3R's descriptor-head keys (when asked) and lists them;
  * strips a ``module.`` prefix left by ``DistributedDataParallel``;
  * copies ``dec_blocks.*`` to ``dec_blocks2.*`` only when no key starts with ``dec_blocks2`` (CroCo
    pre-training checkpoints have one decoder; released DUSt3R files carry both);
  * restores the tied DPT aliases ``dpt.scratch.layer_rn.{k-1}.weight`` = ``dpt.scratch.layer{k}_rn.weight``
    that safetensors files drop (and the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

DDP_PREFIX = "module."


@dataclass
class RemapNotes:
    """What :func:`remap_state_dict` changed.

    Attributes:
        ignored_keys: keys dropped on purpose (MASt3R descriptor head), sorted.
        aliases_added: tied DPT keys added from their twin.
        copied_dec_blocks2: number of ``dec_blocks2`` keys copied from ``dec_blocks``.
        stripped_prefix: a ``module.`` prefix was removed from every key.
    """

    ignored_keys: list[str] = field(default_factory=list)
    aliases_added: list[str] = field(default_factory=list)
    copied_dec_blocks2: int = 0
    stripped_prefix: bool = False


def remap_state_dict(
    state_dict: Mapping[str, torch.Tensor], drop_prefixes: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], RemapNotes]:
    """Map checkpoint keys to this implementation's keys (see the module docstring)."""
    notes = RemapNotes()
    out = dict(state_dict)
    if out and all(k.startswith(DDP_PREFIX) for k in out):
        out = {k[len(DDP_PREFIX) :]: v for k, v in out.items()}
        notes.stripped_prefix = True
    if drop_prefixes:
        notes.ignored_keys = sorted(k for k in out if k.startswith(drop_prefixes))
        for key in notes.ignored_keys:
            del out[key]
    if not any(k.startswith("dec_blocks2") for k in out):
        copies = {
            "dec_blocks2" + k[len("dec_blocks") :]: v for k, v in out.items() if k.startswith("dec_blocks.")
        }
        out.update(copies)
        notes.copied_dec_blocks2 = len(copies)
    for head in ("downstream_head1", "downstream_head2"):
        for k in range(1, 5):
            named = f"{head}.dpt.scratch.layer{k}_rn.weight"
            alias = f"{head}.dpt.scratch.layer_rn.{k - 1}.weight"
            if named in out and alias not in out:
                out[alias] = out[named]
                notes.aliases_added.append(alias)
            elif alias in out and named not in out:
                out[named] = out[alias]
                notes.aliases_added.append(named)
    return out, notes


@dataclass(frozen=True)
class StateDictMismatch:
    """Differences between the keys/shapes a model expects and those a checkpoint provides."""

    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    shape_mismatch: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # (key, checkpoint, model)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shape_mismatch)

    def summary(self) -> str:
        """One line: the count of each kind of difference with its first example (for an error message)."""
        parts = []
        for title, keys in (
            ("missing from the checkpoint", self.missing),
            ("not used by the model", self.unexpected),
        ):
            if keys:
                parts.append(f"{len(keys)} weight(s) {title} (first: {keys[0]})")
        if self.shape_mismatch:
            key, got, want = self.shape_mismatch[0]
            parts.append(
                f"{len(self.shape_mismatch)} weight(s) with a different shape "
                f"(first: {key}: checkpoint {list(got)} vs model {list(want)})"
            )
        return "; ".join(parts)

    def describe(self, limit: int = 5) -> str:
        """A readable multi-line summary with at most ``limit`` examples per category."""
        lines = []
        for title, keys in (
            ("missing from the checkpoint", self.missing),
            ("not used by the model", self.unexpected),
        ):
            if keys:
                shown = ", ".join(keys[:limit]) + (", ..." if len(keys) > limit else "")
                lines.append(f"  {len(keys)} weight(s) {title}: {shown}")
        if self.shape_mismatch:
            lines.append(f"  {len(self.shape_mismatch)} weight(s) with a different shape:")
            for key, got, want in self.shape_mismatch[:limit]:
                lines.append(f"    {key}: checkpoint {list(got)} vs model {list(want)}")
            if len(self.shape_mismatch) > limit:
                lines.append("    ...")
        return "\n".join(lines)


def compare_state_dict(
    expected: Mapping[str, torch.Tensor], provided: Mapping[str, torch.Tensor]
) -> StateDictMismatch:
    """Compare key sets and shapes (tensors may live on the meta device; no data is read)."""
    missing = tuple(k for k in expected if k not in provided)
    unexpected = tuple(k for k in provided if k not in expected)
    mismatch = tuple(
        (k, tuple(provided[k].shape), tuple(expected[k].shape))
        for k in expected
        if k in provided and tuple(provided[k].shape) != tuple(expected[k].shape)
    )
    return StateDictMismatch(missing, unexpected, mismatch)
