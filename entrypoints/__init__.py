"""Ways into the service (HTTP API, command line) and the composition root."""
