"""Lambda entry module of the baseline: loads the model at import, as the original did.

``MODEL_PATH`` (default ``pipeline.joblib``) names the joblib'd pipeline; this module is the one
place the baseline reads its environment. ``app`` is what uvicorn serves locally.
"""

from __future__ import annotations

import os

import joblib
from mangum import Mangum

from benchmarks.baseline.app import create_app

MODEL_PATH = os.environ.get("MODEL_PATH", "pipeline.joblib")

pipeline = joblib.load(MODEL_PATH)
app = create_app(pipeline)
handler = Mangum(app)
