"""A small helper to build one ONNX graph step by step, with unique names and typed I/O."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from convert import IR_VERSION, ML_OPSET, ONNX_OPSET

#: ONNX element types of the raw input type names used in service.schema.INPUT_TYPES.
ELEM_TYPES: dict[str, int] = {"float32": TensorProto.FLOAT, "string": TensorProto.STRING}

ML_DOMAIN = "ai.onnx.ml"


class GraphBuilder:
    """Accumulate nodes, initializers, inputs and outputs of one graph.

    Every intermediate name is generated (``prefix`` + op + counter) so that stages built
    separately (features, trees, head, later contributions) never collide. ``cache`` lets
    feature definitions share an intermediate tensor (e.g. the transaction type code).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: dict[str, onnx.ValueInfoProto] = {}
        self.outputs: list[onnx.ValueInfoProto] = []
        self.cache: dict[str, str] = {}
        self._counter = 0

    def fresh(self, stem: str) -> str:
        """A new unique tensor or node name."""
        self._counter += 1
        return f"{stem}_{self._counter}"

    def input(self, name: str, elem_type: int) -> str:
        """Declare (once) a 1-D graph input of shape ``[N]`` and return its name."""
        if name not in self.inputs:
            self.inputs[name] = helper.make_tensor_value_info(name, elem_type, ["N"])
        return name

    def const(self, stem: str, value: Any, dtype: Any) -> str:
        """Add a constant initializer (numpy-convertible ``value`` of ``dtype``)."""
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        *,
        domain: str = "",
        outputs: int | list[str] = 1,
        **attrs: Any,
    ) -> str | list[str]:
        """Append one node; return its output name (or names when ``outputs`` is a list/count>1)."""
        names = (
            outputs if isinstance(outputs, list) else [self.fresh(op_type) for _ in range(outputs)]
        )
        self.nodes.append(
            helper.make_node(
                op_type, inputs, names, name=self.fresh(f"n_{op_type}"), domain=domain, **attrs
            )
        )
        return names[0] if len(names) == 1 else names

    def output(self, tensor: str, name: str, elem_type: int, shape: list[Any]) -> None:
        """Expose ``tensor`` as graph output ``name`` (through Identity when the names differ)."""
        if tensor != name:
            self.op("Identity", [tensor], outputs=[name])
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def embed(self, model: onnx.ModelProto, feeds: dict[str, str], prefix: str) -> dict[str, str]:
        """Copy ``model``'s graph in, wiring its inputs to ``feeds``; map its outputs to names.

        Names inside the embedded graph get ``prefix`` so they cannot clash with ours.
        """
        graph = onnx.GraphProto()
        graph.CopyFrom(model.graph)
        rename = {i.name: feeds[i.name] for i in graph.input}
        missing = set(feeds) - set(rename)
        if missing:
            raise ValueError(f"embedded graph has no input(s) {sorted(missing)}")

        def mapped(name: str) -> str:
            return rename.get(name, f"{prefix}{name}") if name else name

        for init in graph.initializer:
            init.name = mapped(init.name)
            self.initializers.append(init)
        for node in graph.node:
            node.input[:] = [mapped(n) for n in node.input]
            node.output[:] = [mapped(n) for n in node.output]
            node.name = f"{prefix}{node.name}"
            self.nodes.append(node)
        return {o.name: mapped(o.name) for o in graph.output}

    def model(self, producer: str, producer_version: str) -> onnx.ModelProto:
        """Assemble the ModelProto with pinned opsets and IR version, checked by onnx."""
        graph = helper.make_graph(
            self.nodes, self.name, list(self.inputs.values()), self.outputs, self.initializers
        )
        model = helper.make_model(
            graph,
            opset_imports=[
                helper.make_opsetid("", ONNX_OPSET),
                helper.make_opsetid(ML_DOMAIN, ML_OPSET),
            ],
            producer_name=producer,
            producer_version=producer_version,
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model
