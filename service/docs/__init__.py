"""The API's documentation: the OpenAPI document and the HTML page that renders it."""
