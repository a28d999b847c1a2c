"""REST API: VoIPBIN-style /v1.0 resources, Vapi-compatible call endpoints, auth, webhooks."""
