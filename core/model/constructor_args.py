"""Parse the model constructor string stored in official checkpoints, without executing it.

Official ``.pth`` files keep the training command's ``--model`` argument in ``ckpt['args'].model``, e.g.
``AsymmetricCroCo3DStereo(pos_embed='RoPE100', img_size=(512, 512), depth_mode=('exp', -inf, inf), ...)``.
The official loader ``eval``s it; we read it with :mod:`ast` and accept only a call of a plain name with
keyword arguments whose values are literals (numbers, strings, booleans, None, ``inf``/``nan``, tuples,
lists, dicts of those, unary minus). Keyword order is irrelevant; positional arguments are refused.
"""

from __future__ import annotations

import ast
import math

from ..errors import CheckpointError

_NAMED_CONSTANTS = {"inf": math.inf, "nan": math.nan, "True": True, "False": False, "None": None}
MAX_CONSTRUCTOR_LENGTH = 10_000


def _literal(node: ast.AST, text: str) -> object:
    """The value of a literal expression node; raises CheckpointError for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | type(None)):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMED_CONSTANTS:
        return _NAMED_CONSTANTS[node.id]
    if isinstance(node, ast.Attribute) and node.attr in ("inf", "nan") and isinstance(node.value, ast.Name):
        return _NAMED_CONSTANTS[node.attr]  # np.inf, math.inf, float.inf-like spellings
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand, text)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple | ast.List):
        values = [_literal(item, text) for item in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else values
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k, text): _literal(v, text) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        if len(node.args) == 1 and not node.keywords:
            arg = _literal(node.args[0], text)
            if isinstance(arg, str) and arg.strip().lower() in ("inf", "+inf", "-inf", "nan"):
                return float(arg)
    snippet = ast.get_source_segment(text, node) or type(node).__name__
    raise CheckpointError(f"the checkpoint's model description contains a non-literal value: {snippet!r}")


def parse_constructor(text: str) -> tuple[str, dict[str, object]]:
    """Split ``ClassName(key=value, ...)`` into the class name and a dict of keyword values.

    Raises:
        CheckpointError: not a single call of a plain name, positional or ``**`` arguments, non-literal values.
    """
    if not isinstance(text, str) or not text.strip():
        raise CheckpointError("the checkpoint's model description (args.model) is empty or not a string")
    if len(text) > MAX_CONSTRUCTOR_LENGTH:
        raise CheckpointError("the checkpoint's model description (args.model) is implausibly long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise CheckpointError(
            f"cannot parse the checkpoint's model description {text!r}: {exc.msg}"
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise CheckpointError(f"the checkpoint's model description is not a constructor call: {text!r}")
    if call.args:
        raise CheckpointError(
            f"the checkpoint's model description uses positional arguments, which cannot be read safely: {text!r}"
        )
    kwargs: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise CheckpointError(f"the checkpoint's model description uses **kwargs: {text!r}")
        if keyword.arg in kwargs:
            raise CheckpointError(f"the checkpoint's model description repeats {keyword.arg!r}: {text!r}")
        kwargs[keyword.arg] = _literal(keyword.value, text)
    return call.func.id, kwargs
