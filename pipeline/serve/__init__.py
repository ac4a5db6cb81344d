"""The HTTP API (`docqa serve`): routes, OpenAPI models, micro-batching and the page; no rules of its own."""
