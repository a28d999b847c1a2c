"""Template rendering helpers: the dialplan snippet keeps flowengine's contexts and drops a whole Asterisk's parts."""
from __future__ import annotations

from flowengine.asterisk.templates import dialplan_contexts

DIALPLAN = """; top comment
[general]
static = yes

[globals]
X = 1

[flowengine-inbound]
exten => _X.,1,Stasis(app)

[flowengine-services]
exten => doctor,1,Answer()

#tryinclude extensions_local.conf
"""


def test_dialplan_contexts_keeps_only_flowengines_contexts() -> None:
    out = dialplan_contexts(DIALPLAN)
    assert out == ("; top comment\n[flowengine-inbound]\nexten => _X.,1,Stasis(app)\n\n"
                   "[flowengine-services]\nexten => doctor,1,Answer()\n\n")
