"""What happens once an AI call ended: outcome (usage, costs), post-call analysis, summaries, start-up recovery."""
