"""The fraudlite JSON API: /predict (request types, validation, wording, explanations), /health,
/model and the index."""
