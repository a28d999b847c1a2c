"""AI configurations and AI calls: lifecycle, conversation loop, tools."""
