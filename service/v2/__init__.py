"""The Open Inference Protocol (KServe V2): request types and validation, tensor values, routes
and their OpenAPI paths."""
