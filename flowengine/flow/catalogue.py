"""The action catalogue: every VoIPBIN action type, its option model, and whether flowengine runs it."""
from __future__ import annotations

from flowengine.flow.options import ai, bridge, call, control, notify
from flowengine.flow.options.common import NoOptions
from flowengine.flow.registry import ActionRegistry, ActionSpec, Media

RTC, NON_RTC, ANY = Media.RTC, Media.NON_RTC, Media.ANY

NO_CONFERENCES = "flowengine has no conference resources (VoIPBIN's conference-manager); use confbridge_join"
NO_QUEUES = "flowengine has no call queues (VoIPBIN's queue-manager)"
NO_TRANSCRIBE = "flowengine has no transcribe resource (VoIPBIN's transcribe-manager)"
NO_MESSAGING = "flowengine has no SMS/messaging provider (VoIPBIN's message-manager)"
NO_CONVERSATIONS = "flowengine has no conversations (VoIPBIN's conversation-manager)"
NO_CASES = "flowengine has no contacts or cases (VoIPBIN's contact-manager)"
NO_BEHAVIOUR = "VoIPBIN defines no behaviour for it (it has no executor there)"

_CONDITION_TARGETS = ("false_target_id",)

SPECS: tuple[ActionSpec, ...] = (
    # call control
    ActionSpec("answer", NoOptions, "Answer the call.", RTC),
    ActionSpec("hangup", call.HangupOptions, "Hang up the call.", RTC),
    ActionSpec("talk", call.TalkOptions, "Speak text (TTS) to the caller.", RTC),
    ActionSpec("play", call.PlayOptions, "Play media URLs or sounds.", RTC),
    ActionSpec("beep", NoOptions, "Play a beep.", RTC),
    ActionSpec("digits_receive", call.DigitsReceiveOptions, "Collect DTMF digits.", RTC),
    ActionSpec("digits_send", call.DigitsSendOptions, "Send DTMF digits.", RTC),
    ActionSpec("sleep", call.SleepOptions, "Wait.", RTC),
    ActionSpec("echo", call.EchoOptions, "Echo the caller's audio back.", RTC),
    ActionSpec("stream_echo", call.EchoOptions, "Echo all of the caller's streams back.", RTC),
    ActionSpec("mute", NoOptions, "Mute (undefined in VoIPBIN).", RTC, unsupported=NO_BEHAVIOUR),
    ActionSpec("amd", call.AmdOptions, "Answering-machine detection.", RTC),
    ActionSpec("recording_start", call.RecordingStartOptions, "Start recording the call.", RTC),
    ActionSpec("recording_stop", NoOptions, "Stop recording the call.", RTC),
    ActionSpec("external_media_start", call.ExternalMediaStartOptions, "Stream the call's audio out.", RTC),
    ActionSpec("external_media_stop", NoOptions, "Stop every external media of the call.", RTC),
    # bridging
    ActionSpec("confbridge_join", bridge.ConfbridgeJoinOptions, "Join a confbridge until leaving it.", RTC),
    ActionSpec(
        "conference_join", bridge.ConferenceJoinOptions, "Join a conference.", RTC, unsupported=NO_CONFERENCES
    ),
    ActionSpec("connect", bridge.ConnectOptions, "Dial destinations and bridge them with the call.", RTC),
    ActionSpec(
        "call", bridge.CallOptions, "Start independent new calls running a flow.", ANY,
        raw_options=frozenset({"actions"}),
    ),
    ActionSpec("queue_join", bridge.QueueJoinOptions, "Join a call queue.", RTC, unsupported=NO_QUEUES),
    # transcription
    ActionSpec(
        "transcribe_start", notify.TranscribeStartOptions, "Start live transcription.", RTC,
        unsupported=NO_TRANSCRIBE,
    ),
    ActionSpec("transcribe_stop", NoOptions, "Stop live transcription.", RTC, unsupported=NO_TRANSCRIBE),
    ActionSpec(
        "transcribe_recording", notify.TranscribeStartOptions, "Transcribe the call's recordings.", ANY,
        unsupported=NO_TRANSCRIBE,
    ),
    # flow control
    ActionSpec("goto", control.GotoOptions, "Jump to an action, at most loop_count times.", ANY, ("target_id",)),
    ActionSpec(
        "branch", control.BranchOptions, "Jump by the value of a variable.", ANY,
        ("default_target_id", "target_ids"), frozenset({"variable"}),
    ),
    ActionSpec(
        "condition_variable", control.ConditionVariableOptions, "Go on if a variable compares true.", ANY,
        _CONDITION_TARGETS,
    ),
    ActionSpec(
        "condition_datetime", control.ConditionDatetimeOptions, "Go on if the date/time matches.", ANY,
        _CONDITION_TARGETS,
    ),
    ActionSpec(
        "condition_call_digits", control.ConditionCallDigitsOptions, "Go on if the digits match (deprecated).",
        RTC, _CONDITION_TARGETS,
    ),
    ActionSpec(
        "condition_call_status", control.ConditionCallStatusOptions, "Go on if the call status matches (deprecated).",
        RTC, _CONDITION_TARGETS,
    ),
    ActionSpec("stop", NoOptions, "End the activeflow (hangs up a call).", ANY),
    ActionSpec("block", NoOptions, "Halt until the activeflow is continued.", NON_RTC),
    ActionSpec("empty", NoOptions, "Do nothing.", ANY),
    ActionSpec("variable_set", control.VariableSetOptions, "Set a variable.", ANY),
    ActionSpec("fetch", control.FetchOptions, "Fetch actions over HTTP and run them next.", ANY),
    ActionSpec("fetch_flow", control.FetchFlowOptions, "Run another flow's actions next.", ANY),
    # AI
    ActionSpec("ai_talk", ai.AiTalkOptions, "Let an AI agent talk with the caller.", ANY),
    ActionSpec("ai_task", ai.AiTaskOptions, "Run a headless AI task.", NON_RTC),
    ActionSpec("ai_summary", ai.AiSummaryOptions, "Summarise a call, conference or recording.", NON_RTC),
    # messaging and notifications
    ActionSpec("webhook_send", notify.WebhookSendOptions, "Send an HTTP request.", ANY),
    ActionSpec("email_send", notify.EmailSendOptions, "Send an email.", ANY),
    ActionSpec("message_send", notify.MessageSendOptions, "Send an SMS.", ANY, unsupported=NO_MESSAGING),
    ActionSpec(
        "conversation_send", notify.ConversationSendOptions, "Send a chat message.", ANY,
        unsupported=NO_CONVERSATIONS,
    ),
    ActionSpec("case_create", notify.CaseCreateOptions, "Create a contact case.", ANY, unsupported=NO_CASES),
)


def build_registry() -> ActionRegistry:
    """A fresh registry holding the whole catalogue."""
    registry = ActionRegistry()
    for spec in SPECS:
        registry.add(spec)
    return registry


ACTIONS: ActionRegistry = build_registry()
"""The registry the validator and the runner use."""
