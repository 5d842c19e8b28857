"""Lambda functions of the deployment other than the scoring API (deploy hook, ...)."""
