"""Research scripts: measurements behind the docs (explanation cost, feature ablation, generator vs
real PaySim). Not part of any runtime package; run with ``python -m research.NAME``."""
