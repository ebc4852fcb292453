"""HTTP API contracts between the gateway and the services."""
