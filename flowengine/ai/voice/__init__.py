"""The live voice loop of an AI call: media, turn-taking, the conversation, call rules, voicemail and team switches."""
