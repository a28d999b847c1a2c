"""The Vapi front door: Vapi-compatible call endpoints, assistants as AIs, Vapi's serverUrl messages and Call views."""
