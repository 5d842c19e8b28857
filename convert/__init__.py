"""Export the trained inference pipeline as one ONNX graph and prove it equals XGBoost.

``fraud-convert ARTIFACTS_DIR`` (:func:`convert.export.export_model`) writes ``model.onnx``: raw
transaction fields in, ``probability`` and ``label`` out, feature engineering included.
``fraud-parity`` (:func:`convert.parity.check_parity`) scores the same rows with the original
pipeline and with onnxruntime and reports the differences. See docs/model-contract.md.
"""

from __future__ import annotations

from typing import Final

#: Opset of the default ONNX domain. onnxmltools 1.16 converts XGBoost up to opset 15, and the
#: whole graph shares one opset per domain.
ONNX_OPSET: Final = 15
#: Opset of the ai.onnx.ml domain (TreeEnsembleClassifier, LabelEncoder v2).
ML_OPSET: Final = 3
#: IR version matching opset 15, readable by every onnxruntime since 1.10.
IR_VERSION: Final = 8
