"""What the service tells its operators: structured request logs, metrics (CloudWatch EMF on
Lambda, Prometheus under fraud-serve) and the decision log. See docs/operations.md."""
