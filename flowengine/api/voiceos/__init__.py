"""The VoiceOS front door: conversations and agents, its request models, views, webhook filters and hooks."""
