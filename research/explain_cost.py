"""What the explanation outputs cost per request: ``python -m research.explain_cost ARTIFACTS_DIR``.

Builds four variants of the graph from the same artifacts and times single-row (and batch)
``session.run`` calls, one intra-op thread as the service runs, rounds interleaved so that
machine noise hits every variant alike:

- ``plain``: no explanation outputs, fetching probability and label;
- ``ungated``: a contributions node always in the graph, fetching only probability and label
  (does onnxruntime skip nodes whose outputs are not fetched?);
- ``gated``: the exported graph (contributions behind ``If(explain)``), explain not fed;
- ``gated+explain``: the same with ``explain`` fed true, fetching every output.

Prints a Markdown table (median and p99 in microseconds); docs/explanations.md records a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from onnx import TensorProto

from convert.artifacts import Artifacts, load_artifacts
from convert.contributions import CONTRIBUTIONS, EXPLAIN_INPUT, add_contributions
from convert.export import add_head, build_graph
from convert.features_graph import build_features
from convert.graph import GraphBuilder
from convert.parity import make_session, onnx_feed
from convert.trees import TREE_INPUT, TREE_PROBABILITIES, convert_trees
from service.schema import OUTPUT_LABEL, OUTPUT_PROBABILITY
from train.synthetic import generate

SCORE = [OUTPUT_PROBABILITY, OUTPUT_LABEL]


def _ungated(artifacts: Artifacts) -> bytes:
    """The plain graph plus a contributions node that always runs (no ``If``)."""
    builder = GraphBuilder("ungated")
    features = build_features(builder, artifacts.feature_set)
    n = len(artifacts.feature_names)
    trees = builder.embed(convert_trees(artifacts.model, n), {TREE_INPUT: features}, "xgb/")
    add_head(builder, trees[TREE_PROBABILITIES], artifacts.threshold)
    contributions = add_contributions(builder, features, artifacts.model, n)
    builder.output(contributions, CONTRIBUTIONS, TensorProto.FLOAT, ["N", n + 1])
    return builder.model("explain_cost", "0").SerializeToString()


def _time(session: ort.InferenceSession, fetch, feeds: list[dict]) -> list[float]:
    out = []
    for feed in feeds:
        start = time.perf_counter_ns()
        session.run(fetch, feed)
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def measure(artifacts_dir: str, rows: int = 2000, rounds: int = 5, batch: int = 1000) -> None:
    artifacts = load_artifacts(artifacts_dir)
    sessions = {
        "plain": make_session(build_graph(artifacts, explain=False).SerializeToString()),
        "ungated": make_session(_ungated(artifacts)),
        "gated": make_session(build_graph(artifacts, explain=True).SerializeToString()),
    }
    sessions["gated+explain"] = sessions["gated"]
    names = [i.name for i in sessions["plain"].get_inputs()]
    frame = generate(rows, seed=5)
    singles = [onnx_feed(frame.iloc[i : i + 1], names) for i in range(rows)]
    on = np.array(True)
    cases = {
        "plain": (SCORE, singles),
        "ungated": (SCORE, singles),
        "gated": (SCORE, singles),
        "gated+explain": (None, [{**f, EXPLAIN_INPUT: on} for f in singles]),
    }
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(rounds):
        for name, (fetch, feeds) in cases.items():
            samples[name] += _time(sessions[name], fetch, feeds)
        print(f"[explain_cost] round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    big = onnx_feed(generate(batch, seed=6), names)
    batch_ms = {}
    for name, (fetch, _) in cases.items():
        feed = {**big, EXPLAIN_INPUT: on} if name == "gated+explain" else big
        batch_ms[name] = statistics.median(_time(sessions[name], fetch, [feed] * 30)) / 1000
    print(
        f"trees: {artifacts.model.get_booster().num_boosted_rounds()}, "
        f"max_depth {artifacts.model.get_params().get('max_depth')}, one intra-op thread"
    )
    print(f"| variant | 1 row median (us) | 1 row p99 (us) | {batch} rows median (ms) |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        print(
            f"| {name} | {statistics.median(values):.1f} | {np.percentile(values, 99):.1f} | "
            f"{batch_ms[name]:.2f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m research.explain_cost", description=__doc__)
    parser.add_argument("artifacts_dir")
    parser.add_argument("--rows", type=int, default=2000, help="single rows per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    measure(args.artifacts_dir, args.rows, args.rounds, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
