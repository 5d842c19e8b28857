"""Shipping a new model safely: publish versioned models to S3 and compare A/B arms.

``fraud-publish`` (rollout.publish_cli) uploads a model and its manifest under its version and lists
what is published; ``fraud-ab-report`` (rollout.ab_report) compares the arms of an A/B split from
the service's decision log. The serving side (shadow, A/B) lives in ``service/rollout/``.
"""
