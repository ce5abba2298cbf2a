"""The table of vector-Jacobian-product rules, one per ONNX operator type."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import onnx

from nca_onnx.errors import UnsupportedOperatorError
from nca_onnx.grad.context import GradContext

__all__ = ["GradRule", "register", "rule_for", "supported_operators"]

#: rule(ctx, node, output_grads, wanted) -> one gradient name (or None) per node input.
#: `output_grads[k]` is the gradient of output k, None when nothing downstream needs it;
#: `wanted[k]` says whether input k needs a gradient.
GradRule = Callable[
    [GradContext, onnx.NodeProto, Sequence[str | None], Sequence[bool]],
    Sequence[str | None],
]

_RULES: dict[str, GradRule] = {}


def register(*op_types: str) -> Callable[[GradRule], GradRule]:
    """Decorator: use the decorated function as the rule of the given operator types."""

    def decorate(rule: GradRule) -> GradRule:
        for op_type in op_types:
            _RULES[op_type] = rule
        return rule

    return decorate


def rule_for(node: onnx.NodeProto) -> GradRule:
    """Return the rule of a node's operator.

    Raises:
        UnsupportedOperatorError: no rule exists for the node's operator or domain.
    """
    rule = _RULES.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if rule is None:
        domain = f" of domain '{node.domain}'" if node.domain not in ("", "ai.onnx") else ""
        raise UnsupportedOperatorError(
            f"no gradient rule for operator {node.op_type}{domain} (node '{node.name}') on the "
            "path from the input to the output; supported operators: "
            f"{', '.join(supported_operators())}. Re-export the model with supported operators "
            "or add a rule in nca_onnx/grad/"
        )
    return rule


def supported_operators() -> list[str]:
    """Sorted operator types that have a gradient rule."""
    return sorted(_RULES)
