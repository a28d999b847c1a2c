"""Test-only dialplan for flows on calls: callees that answer, play, and record what they hear."""

FLOW_TEST_DIALPLAN = r"""
[flowengine-test-callee]
; hear-<name>: answers, plays a sound the caller should hear, records what it receives
exten => _hear-.,1,Answer()
 same => n,MixMonitor(${ASTSPOOLDIR}/recording/${EXTEN}.wav,r(${ASTSPOOLDIR}/recording/${EXTEN}-rx.wav))
 same => n,Playback(tt-monkeys)
 same => n,Wait(4)
 same => n,Hangup()
exten => busy,1,Busy(5)
exten => noanswer,1,Wait(60)
exten => flowcall,1,Answer()
 same => n,Wait(8)
 same => n,Hangup()
"""
