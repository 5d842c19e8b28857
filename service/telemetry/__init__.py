"""What the service tells its operators: structured request logs."""
