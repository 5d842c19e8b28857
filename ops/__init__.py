"""fraudlite operations: the commands the CI/CD workflows run, each of which also runs locally.

``fraud-smoke URL`` checks a deployed API, ``fraud-load-check URL`` runs a short Locust run with
limits, ``fraud-retrain-gate`` compares a candidate model with the production one on the same
held-out rows, ``fraud-model-pin`` reads and updates the deployed model version
(deploy/model.json), ``fraud-invoke-check`` sends API Gateway events to a Lambda invoke endpoint
(the image under its RIE), ``fraud-deploy-template`` points template.yaml at a pushed image.
See docs/cicd.md. Nothing here is imported by service/.
"""
