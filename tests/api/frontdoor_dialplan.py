"""Test-only dialplan for the Vapi and VoiceOS front doors: callees that answer and speak, then stay or hang up."""

FRONTDOOR_TEST_DIALPLAN = r"""
[flowengine-frontdoor-test]
; talk<N>: answers, lets the agent greet (waits for its voice, then for 1.2 s of quiet: a loaded machine
; may take seconds to greet, and a fixed wait would talk over it), says Asterisk's
; "please leave your message after the tone..."
; prompt (real speech for the recogniser), then stays N seconds and hangs up
exten => _talk.,1,Answer()
 same => n,WaitForNoise(300,1,30)
 same => n,WaitForSilence(1200,1,30)
 same => n,Playback(vm-intro)
 same => n,Wait(${EXTEN:4})
 same => n,Hangup()
; hello<N>: the same with one short utterance ("hello world"): nothing interrupts the agent's answer
exten => _hello.,1,Answer()
 same => n,WaitForNoise(300,1,30)
 same => n,WaitForSilence(1200,1,30)
 same => n,Playback(hello-world)
 same => n,Wait(${EXTEN:5})
 same => n,Hangup()
exten => busy,1,Busy(5)
"""
