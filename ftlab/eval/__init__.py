"""The evaluation side: decoding (generation), per-row metrics and statistics, the label baselines, the
judge, the forgetting probe, the evaluation stages' pieces (evaluation), the report's tables (reporting) and
the data-scaling curve (scaling)."""
