"""The HTTP surface of the inference function: routes, request bodies, error responses, events.

``table`` defines every route and each request body once (validation and the OpenAPI
document both come from it); handlers see the model through ``model.Model`` and the
limits through ``model.Limits``; ``routes.build_handler`` wires them to the service.
"""
