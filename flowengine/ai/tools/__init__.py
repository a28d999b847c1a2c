"""AI call tools: the VoIPBIN catalogue, the Vapi tool kinds an assistant declares, and the per-call runner."""
