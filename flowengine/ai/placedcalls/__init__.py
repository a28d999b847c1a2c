"""Calls placed for the Vapi and VoiceOS front doors: dial a number, run an AI call on the answer, report it.

`service.PlacedCalls` is the service (the front doors only translate their bodies onto it); `hooks.CallHooks`
is the port a front door implements to hear about its calls; `errors` what a refused or failed dial raises;
`endings` the ended reasons of calls never answered; `delivery` hands news to the hooks in order."""
