"""Test-only dialplan for AI calls: an answering machine and a person that outbound AI calls reach."""

AI_TEST_DIALPLAN = r"""
[flowengine-test-am]
; am-<name>: an answering machine: plays spool/recording/am-<name>-greeting.wav (its greeting and beep),
; then records; <exten>.wav holds both directions, <exten>-rx.wav what it received
exten => _am-.,1,Answer()
 same => n,MixMonitor(${ASTSPOOLDIR}/recording/${EXTEN}.wav,r(${ASTSPOOLDIR}/recording/${EXTEN}-rx.wav))
 same => n,Playback(${ASTSPOOLDIR}/recording/${EXTEN}-greeting)
 same => n,Wait(15)
 same => n,Hangup()
"""
