"""VoIPBIN's /v1.0 resources: flows, activeflows, AIs, AI calls and messages, calls, campaigns, teams, customers, keys."""
