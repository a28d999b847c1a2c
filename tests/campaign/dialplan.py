"""Test-only dialplan for campaign targets: each extension prefix is one behaviour (`talk7`, `busy2`...).
Prefixes avoid the letters N, X and Z, which are wildcards in Asterisk patterns."""

CAMPAIGN_TEST_DIALPLAN = r"""
[flowengine-campaign-test]
; talk: answers and stays until the engine hangs up
exten => _talk.,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => _busy.,1,Busy(5)
; quiet: rings and never answers
exten => _quiet.,1,Wait(60)
; robot: an answering machine -- a long greeting, then the beep, then it records
exten => _robot.,1,Answer()
 same => n,Playback(vm-intro)
 same => n,Playback(beep)
 same => n,Wait(20)
 same => n,Hangup()
; drop: hangs up at once without answering
exten => _drop.,1,Hangup()
"""
