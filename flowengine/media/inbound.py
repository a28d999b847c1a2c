"""Inbound audio: RTP payloads -> jitter buffer -> batched decode -> VAD -> 16 kHz frames, once per tick."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from flowengine.media import native
from flowengine.media.codecs import Codec
from flowengine.media.frames import AudioFrame
from flowengine.media.g711 import Pcm
from flowengine.media.halfband import COEFF_BITS, HISTORY, PHASE, upsample_rows
from flowengine.media.jitter import FillMode, JitterBuffer
from flowengine.media.resample import ENGINE_RATE, Resampler
from flowengine.media.vad import FRAME_MS, VadAnalyzer, VadEvent

logger = logging.getLogger(__name__)

ENGINE_FRAME_SAMPLES = ENGINE_RATE * FRAME_MS // 1000
_EMPTY_PCM = np.zeros(0, dtype=np.int16)
# `quality` of the 8 -> 16 kHz path: the batched half-band FIR (default), or a soxr quality.
HALFBAND = "halfband"
# Frames handed to the resampler per call. soxr emits in blocks anyway (HQ 8 -> 16 kHz:
# ~1660 samples), so two frames per call costs half the calls for +20 ms worst-case delay:
# per-sample delay at HQ is 74 ms mean / 155 ms max (135 ms with one frame per call), still
# inside the default stop_secs (200 ms) that the end-of-turn decision waits anyway.
RESAMPLE_FRAMES = 2
# Inbound work per event-loop turn, and receivers decoded per numpy call: 128 (~1 ms of
# work) costs 0.7 us a frame less than 32 in the half-band product and per-call overheads,
# and the slice is still checked about every millisecond.
SLICE_SECONDS = 0.002
GROUP_SIZE = 128
HISTORY_ROWS = 64  # initial size of the half-band state table (doubles when full)
_NATIVE_SCALE = 1.0 / (1 << COEFF_BITS)
# Packets in sequence a new SSRC needs before the receiver switches to it: Asterisk's strict RTP
# `probation` default (rtp.conf), with which Asterisk itself learns a new source.
SSRC_PROBATION = 4

AudioHandler = Callable[[AudioFrame], None]
EventHandler = Callable[[VadEvent], None]


class Receiver:
    """The inbound half of one session.

    The packet path (`on_packet`, called by the transport) only checks the packet, runs the
    jitter buffer and queues the payloads; the rest runs in `consume()`, called by the shared
    `InboundBatch` once per clock tick with every session's frames decoded in one numpy call.
    That adds at most one tick (20 ms) of latency and saves several microseconds per frame.
    """

    def __init__(
        self,
        codec: Codec,
        batch: InboundBatch,
        *,
        vad: VadAnalyzer | None = None,
        jitter_capacity: int = 4,
        jitter_fill: FillMode = "silence",
        quality: str = HALFBAND,
        resample_frames: int = RESAMPLE_FRAMES,
        on_audio: AudioHandler | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self.codec = codec
        self.batch = batch
        self.vad = vad
        # Mean square below which a frame is not voiced and, with a volume-first backend, not
        # scored (see `_voiced`); None: the backend must see every frame.
        self._vad_gate: float | None = None
        self._threshold = 0.0
        if vad is not None and vad.volume_first:
            self._vad_gate = vad.min_power
            self._threshold = vad.config.confidence
        self.on_audio = on_audio
        self.on_event = on_event
        # The batch consumes every session's frames in the shared clock's tick; each receiver's
        # part runs in the context it was made in, so its logs (and tasks) carry its call's ids.
        self.context = contextvars.copy_context()
        self.jitter = JitterBuffer(silence=codec.silence, capacity=jitter_capacity, fill=jitter_fill)
        # Half-band path: this stream's filter state is row `history_slot` of the batch's table.
        self.history_slot: int | None = None
        self.resampler: Resampler | None = None
        if codec.sample_rate * 2 == ENGINE_RATE and quality == HALFBAND:
            self.history_slot = batch.allocate_history()
        elif codec.sample_rate != ENGINE_RATE:
            self.resampler = Resampler(codec.sample_rate, ENGINE_RATE, quality="HQ" if quality == HALFBAND else quality)
        self.pending: list[bytes] = []
        self.closed = False
        # Receivers of one key are decoded together (same codec, same 16 kHz path).
        self.group_key = (codec.name, self.history_slot is not None)
        self._resample_frames = max(1, resample_frames)
        self._to_resample: list[npt.NDArray[np.float32]] = []
        self._waiting_frames = 0
        self._payload_type = codec.payload_type
        self._frame_bytes = codec.frame_bytes
        self._rest: Pcm = _EMPTY_PCM
        self._ssrc: int | None = None  # the source locked onto
        self._candidate: int | None = None  # another source being learned, its last sequence number and packets
        self._candidate_seq = 0
        self._held: list[tuple[int, bytes]] = []
        self.wrong_payload = 0
        self.ssrc_changes = 0
        self.ssrc_strays = 0
        self.talkspurts = 0
        self.audio_frames = 0
        self.vad_events = 0

    def on_packet(self, payload_type: int, marker: int, seq: int, timestamp: int, ssrc: int, payload: bytes) -> None:
        if payload_type != self._payload_type or len(payload) != self._frame_bytes:
            self.wrong_payload += 1
            return
        if marker:
            self.talkspurts += 1
        jitter = self.jitter
        if ssrc == self._ssrc and jitter.take_in_order(seq, payload):
            # The common case, in order with nothing waiting: no list, no reordering.
            pending = self.pending
            if not pending:
                self.batch.ready.append(self)
            pending.append(payload)
            return
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self._learn(ssrc, seq, payload)
                return
            self._ssrc = ssrc
        frames = jitter.push(seq, payload)
        if frames:
            self._queue(frames)

    def _learn(self, ssrc: int, seq: int, payload: bytes) -> None:
        """A packet of another SSRC than the locked one. Like Asterisk's strict RTP learning, a new source
        is taken only after SSRC_PROBATION packets of it in sequence (Asterisk re-bridged the channel);
        until then they are held, and a stray one (another SSRC, or out of sequence) is dropped, counted,
        and leaves the locked stream and its jitter buffer alone."""
        held = self._held
        if ssrc != self._candidate or seq != (self._candidate_seq + 1) & 0xFFFF:
            self.ssrc_strays += len(held)
            held.clear()
            self._candidate = ssrc
        self._candidate_seq = seq
        held.append((seq, payload))
        if len(held) < SSRC_PROBATION:
            return
        # The new stream: its sequence starts afresh; what the old one left waiting plays first.
        self.ssrc_changes += 1
        jitter = self.jitter
        self._queue(jitter.flush())
        jitter.reset()
        self._ssrc, self._candidate = ssrc, None
        for held_seq, held_payload in held:
            frames = jitter.push(held_seq, held_payload)
            if frames:
                self._queue(frames)
        held.clear()

    def _queue(self, frames: list[bytes]) -> None:
        if not self.pending:
            self.batch.ready.append(self)
        self.pending.extend(frames)

    def consume_one(self, i: int, frames: Decoded) -> None:
        """`consume(i, 1, frames)` on the half-band path: the usual tick of a G.711 call."""
        vad = self.vad
        if vad is not None:
            gate = self._vad_gate
            found = vad.update(not (gate is not None and frames.powers[i] < gate) and self._voiced(vad, i, frames))
            if found:
                self.vad_events += len(found)
                if self.on_event is not None:
                    for event in found:
                        self.on_event(event)
        n = self.audio_frames
        self.audio_frames = n + 1
        if self.on_audio is not None:
            assert frames.wide is not None
            self.on_audio(AudioFrame(frames.wide[i], n * FRAME_MS))

    def consume(self, first: int, count: int, frames: Decoded) -> None:
        """This tick's frames: rows `first`..`first + count - 1` of the group's `frames`."""
        vad = self.vad
        if vad is not None:
            events: list[VadEvent] | None = None
            for i in range(first, first + count):
                found = vad.update(self._voiced(vad, i, frames))
                if found:
                    if events is None:
                        events = []
                    events.extend(found)
            if events:
                self.vad_events += len(events)
                if self.on_event is not None:
                    for event in events:
                        self.on_event(event)
        wide = frames.wide
        if wide is not None:
            on_audio = self.on_audio
            for i in range(first, first + count):
                n = self.audio_frames
                self.audio_frames = n + 1
                if on_audio is not None:
                    on_audio(AudioFrame(wide[i], n * FRAME_MS))
            return
        end = first + count
        if self.resampler is None:
            for row in frames.pcm[first:end]:
                self._deliver(row)
            return
        samples = frames.samples[first:end]
        self._to_resample.append(samples)
        self._waiting_frames += len(samples)
        if self._waiting_frames < self._resample_frames:
            return
        chunk = self._to_resample[0] if len(self._to_resample) == 1 else np.concatenate(self._to_resample)
        self._to_resample = []
        self._waiting_frames = 0
        out = self.resampler.process_float(chunk.reshape(-1))
        if not len(out):
            return
        if len(self._rest):
            out = np.concatenate((self._rest, out))
        count = len(out) // ENGINE_FRAME_SAMPLES
        self._rest = out[count * ENGINE_FRAME_SAMPLES :]
        for i in range(count):
            self._deliver(out[i * ENGINE_FRAME_SAMPLES : (i + 1) * ENGINE_FRAME_SAMPLES])

    def _voiced(self, vad: VadAnalyzer, i: int, frames: Decoded) -> bool:
        """`vad.voiced()` of row i, unrolled for a volume-first backend (webrtcvad): below the
        volume gate a frame is not voiced and not scored (in QUIET, `update` then only advances
        the VAD's clock); above it, the backend's score decides."""
        power = frames.powers[i]
        gate = self._vad_gate
        if gate is not None and power < gate:
            return False
        row_bytes = frames.row_bytes
        raw = frames.raw[i * row_bytes : (i + 1) * row_bytes]
        if gate is None:
            return vad.voiced(frames.pcm[i], power, raw)
        return vad.backend.confidence(frames.pcm[i], raw) >= self._threshold

    def close(self) -> None:
        self.closed = True
        if self.history_slot is not None:
            self.batch.release_history(self.history_slot)
            self.history_slot = None

    def _deliver(self, pcm: Pcm) -> None:
        t_ms = self.audio_frames * FRAME_MS
        self.audio_frames += 1
        if self.on_audio is not None:
            self.on_audio(AudioFrame(pcm, t_ms))

    def counters(self) -> dict[str, int]:
        counters = self.jitter.counters()
        counters.update(
            wrong_payload=self.wrong_payload,
            ssrc_changes=self.ssrc_changes,
            ssrc_strays=self.ssrc_strays,
            rx_talkspurts=self.talkspurts,
            audio_frames=self.audio_frames,
            vad_events=self.vad_events,
        )
        return counters


class Decoded:
    """One group's frames of a tick, decoded once for all its receivers: int16 rows, their
    mean squares, the int16 rows as bytes (`row_bytes` each), (half-band path) the rows at
    16 kHz, and float32 rows (made on first use: only the soxr path reads them)."""

    __slots__ = ("_samples", "pcm", "powers", "raw", "row_bytes", "wide")

    def __init__(
        self,
        pcm: Pcm,
        samples: npt.NDArray[np.float32] | None,
        powers: list[float],
        raw: memoryview,
        wide: Pcm | None,
    ) -> None:
        self.pcm = pcm
        self._samples = samples
        self.powers = powers
        self.raw = raw
        self.row_bytes = pcm.shape[1] * 2
        self.wide = wide

    @property
    def samples(self) -> npt.NDArray[np.float32]:
        if self._samples is None:
            self._samples = self.pcm.astype(np.float32)
        return self._samples


class InboundBatch:
    """The receivers with frames waiting, processed together after each tick of the media clock.

    Work is cut in slices of `slice_seconds`: when a slice is used up, the rest continues in
    the next event-loop iteration, after the socket callbacks, so a large backlog can never
    hold the next tick's sends back by more than one slice.
    """

    def __init__(
        self, *, slice_seconds: float = SLICE_SECONDS, group_size: int = GROUP_SIZE, use_native: bool = True
    ) -> None:
        self.ready: list[Receiver] = []
        # The C kernel for G.711 groups on the half-band path (None: numpy for every group).
        self.native = native.inbound if use_native else None
        self.slice_seconds = slice_seconds
        self.group_size = group_size
        self.errors = 0
        self.continuations = 0
        self._scheduled = False
        # Half-band filter state of every receiver (one row each), so a tick reads and writes
        # all of a group's states in two numpy operations.
        self.histories = np.zeros((HISTORY_ROWS, HISTORY))
        self._free_rows = list(range(HISTORY_ROWS - 1, -1, -1))

    def allocate_history(self) -> int:
        if not self._free_rows:
            size = len(self.histories)
            self.histories = np.concatenate((self.histories, np.zeros((size, HISTORY))))
            self._free_rows = list(range(2 * size - 1, size - 1, -1))
        return self._free_rows.pop()

    def release_history(self, row: int) -> None:
        self.histories[row] = 0.0
        self._free_rows.append(row)

    def process(self) -> None:
        if self._scheduled or not self.ready:
            return
        self._run()

    def _run(self) -> None:
        self._scheduled = False
        end = time.perf_counter() + self.slice_seconds
        while self.ready:
            batch = self.ready[: self.group_size]
            del self.ready[: self.group_size]
            groups: dict[tuple[str, bool], list[Receiver]] = {}
            for receiver in batch:
                # A receiver can be listed with nothing pending (a new SSRC flushed an empty
                # jitter buffer), or twice (then the first entry took everything).
                if receiver.pending and not receiver.closed:
                    group = groups.get(receiver.group_key)
                    if group is None:
                        groups[receiver.group_key] = [receiver]
                    else:
                        group.append(receiver)
            for receivers in groups.values():
                self._process_group(receivers)
            if self.ready and time.perf_counter() > end:
                self._scheduled = True
                self.continuations += 1
                asyncio.get_running_loop().call_soon(self._run)
                return

    def _process_group(self, receivers: list[Receiver]) -> None:
        codec = receivers[0].codec
        payloads: list[bytes] = []
        counts: list[int] = []
        for receiver in receivers:
            pending = receiver.pending
            receiver.pending = []
            payloads.extend(pending)
            counts.append(len(pending))
        if self.native is not None and codec.decode_table is not None and receivers[0].history_slot is not None:
            frames = self._native_group(receivers, counts, payloads, codec.decode_table)
        else:
            pcm = codec.decode(b"".join(payloads)).reshape(len(payloads), -1)
            samples = pcm.astype(np.float32)
            powers: list[float] = (np.einsum("ij,ij->i", samples, samples) / pcm.shape[1]).tolist()
            wide = self._upsample_group(receivers, counts, pcm) if receivers[0].history_slot is not None else None
            frames = Decoded(pcm, samples, powers, memoryview(pcm.tobytes()), wide)
        if frames.wide is not None and len(receivers) == len(payloads):
            # One frame each on the half-band path (the usual tick): row i is receiver i's.
            for i, receiver in enumerate(receivers):
                try:
                    receiver.context.run(receiver.consume_one, i, frames)
                except Exception:
                    self.errors += 1
                    logger.exception("inbound processing failed for %r", receiver)
            return
        row = 0
        for receiver, count in zip(receivers, counts, strict=False):
            try:
                receiver.context.run(receiver.consume, row, count, frames)
            except Exception:
                # A failing consumer must not take the other calls' audio down with it.
                self.errors += 1
                logger.exception("inbound processing failed for %r", receiver)
            row += count

    def _native_group(
        self, receivers: list[Receiver], counts: list[int], payloads: list[bytes], table: Pcm
    ) -> Decoded:
        """Decode, mean squares and half-band of the group's G.711 frames in one C call (the
        same frames as `_upsample_group`, bit for bit)."""
        assert self.native is not None
        rows = len(payloads)
        frame = len(payloads[0])
        slots = np.array([r.history_slot for r in receivers], dtype=np.int64)
        if rows != len(receivers):
            slots = np.repeat(slots, counts)
        pcm = np.empty((rows, frame), dtype=np.int16)
        wide = np.empty((rows, 2 * frame), dtype=np.int16)
        powers = np.empty(rows)
        self.native.upsample_g711(
            b"".join(payloads), table, PHASE, _NATIVE_SCALE, self.histories, slots, pcm, wide, powers
        )
        return Decoded(pcm, None, powers.tolist(), memoryview(pcm.tobytes()), wide)

    def _upsample_group(self, receivers: list[Receiver], counts: list[int], pcm: Pcm) -> Pcm:
        """All frames of the group to 16 kHz in one matrix product. Row r's filter history is
        the end of row r - 1 (same receiver) or, for a receiver's first row, its saved state.
        Every receiver has at least one row."""
        rows, frame = pcm.shape
        x = np.empty((rows, HISTORY + frame))
        x[:, HISTORY:] = pcm
        if len(receivers) == rows:
            # One frame each (the usual tick): every row starts from its receiver's state.
            slots = np.array([r.history_slot for r in receivers], dtype=np.intp)
            x[:, :HISTORY] = self.histories[slots]
            self.histories[slots] = x[:, frame:]
            return upsample_rows(x)
        x[1:, :HISTORY] = pcm[:-1, frame - HISTORY :]
        ends = np.cumsum(counts)
        starts = ends - counts
        slots = np.array([r.history_slot for r in receivers], dtype=np.intp)
        x[starts, :HISTORY] = self.histories[slots]
        self.histories[slots] = x[ends - 1, frame:]
        return upsample_rows(x)

    def stats(self) -> dict[str, Any]:
        return {"inbound_errors": self.errors, "inbound_continuations": self.continuations}

