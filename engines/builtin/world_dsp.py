"""WORLD vocoder conversion as plain functions: F0 estimation, F0 mapping, vibrato scaling, formant warping.

A voice is analysed into an F0 contour, a spectral envelope (the vocal tract) and an aperiodicity (breath),
each changed on its own, and synthesised again. Long audio is processed in blocks cut at the quietest moments,
so memory stays flat whatever the duration. pyworld (and scipy) are imported inside the functions.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

FRAME_MS = 5.0
FRAME_RATE = 1000.0 / FRAME_MS  # F0 frames per second
ANALYSIS_RATE = 16_000  # F0 and voice statistics need no more bandwidth than this
BLOCK_SECONDS = 10.0  # synthesis block length: a 48 kHz block needs about 120 MB while it is converted
CUT_SEARCH_SECONDS = 2.0  # a block may end this much before its nominal end ...
CUT_EXTEND_SECONDS = 10.0  # ... or this much after it, to end in an unvoiced frame
CUT_DISTANCE_DB_PER_SECOND = 1.0  # prefer cuts near the nominal end: 1 dB quieter is worth 1 s further
BLOCK_MARGIN_SECONDS = 0.25  # each block is synthesised this much beyond its cut, to hide WORLD's edges
CROSSFADE_SECONDS = 0.02
VIBRATO_BAND_HZ = (3.5, 9.0)  # the F0 modulation rates treated as vibrato (singers: about 4 to 8 Hz)
MIN_VIBRATO_RUN_SECONDS = 0.3  # shorter voiced runs hold no full vibrato cycle; left alone
FORMANT_BAND_HZ = (250.0, 5000.0)  # where the vocal tract's resonances sit
FORMANT_SEARCH = (0.75, 1.33)  # ratios tried when matching formants to a target voice
MIN_VOICED_FRAMES = 20  # 0.1 s of pitched sound: fewer and the statistics mean nothing
RELIABLE_RANGE_DB = 30.0
MIN_VOICED_SHARE = 0.25  # of the active frames (measured: white noise < 0.1, speech 0.9, sung tones 1.0)

Report = Callable[[float, str], None]


@dataclass(frozen=True)
class PitchStats:
    """Where a voice sits: median F0 and the spread of its log-F0 (in semitones), over voiced frames."""

    median_hz: float
    spread_semitones: float
    voiced_frames: int

    @property
    def median_semitones(self) -> float:
        return float(12 * np.log2(self.median_hz / 440.0))


def frame_count(samples: int, sample_rate: int) -> int:
    return int(samples / sample_rate * FRAME_RATE) + 1


def estimate_f0(audio: np.ndarray, sample_rate: int, method: str, floor_hz: float, ceiling_hz: float,
                report: Report | None = None, block_seconds: float = 60.0) -> np.ndarray:
    """F0 in Hz every FRAME_MS (0 where unvoiced), by Harvest or DIO + StoneMask, in blocks with margins."""
    from studio.audio.analysis import import_pyworld

    pyworld = import_pyworld()
    total = frame_count(len(audio), sample_rate)
    f0 = np.zeros(total)
    hop = sample_rate / FRAME_RATE
    margin = int(FRAME_RATE)  # one second of frames either side of each block
    blocks = list(_even_blocks(total, int(block_seconds * FRAME_RATE)))
    for i, (start, end) in enumerate(blocks):
        if report:
            report(i / len(blocks), f"Finding the pitch ({i + 1} of {len(blocks)})" if len(blocks) > 1
                   else "Finding the pitch")
        lo, hi = max(0, start - margin), min(total, end + margin)
        chunk = audio[int(round(lo * hop)):int(round((hi - 1) * hop)) + 1].astype(np.float64)
        if method == "harvest":
            part, _ = pyworld.harvest(chunk, sample_rate, f0_floor=floor_hz, f0_ceil=ceiling_hz, frame_period=FRAME_MS)
        else:
            part, times = pyworld.dio(chunk, sample_rate, f0_floor=floor_hz, f0_ceil=ceiling_hz, frame_period=FRAME_MS)
            part = pyworld.stonemask(chunk, part, times, sample_rate)
        core = part[start - lo:start - lo + (end - start)]
        f0[start:start + len(core)] = core
    return f0


def _even_blocks(total: int, size: int) -> Iterator[tuple[int, int]]:
    count = max(1, int(np.ceil(total / max(size, 1))))
    edges = np.linspace(0, total, count + 1).astype(int)
    yield from zip(edges[:-1], edges[1:])


def frame_levels_db(audio: np.ndarray, sample_rate: int, frames: int) -> np.ndarray:
    """Each F0 frame's power in dB (a window of two frame periods centred on it)."""
    hop = sample_rate / FRAME_RATE
    centres = (np.arange(frames) * hop).astype(int)
    power = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
    lo = np.clip(centres - int(hop), 0, len(audio))
    hi = np.clip(centres + int(hop), 0, len(audio))
    return 10 * np.log10((power[hi] - power[lo]) / np.maximum(hi - lo, 1) + 1e-12)


def reliable_voicing(f0: np.ndarray, levels_db: np.ndarray) -> np.ndarray:
    """Voiced frames within RELIABLE_RANGE_DB of the loud parts: the pitch trackers extend voicing into
    breaths and fades, whose low, wavering F0 would drag a voice's statistics down."""
    loud = np.percentile(levels_db, 99) if levels_db.size else 0.0
    return (f0 > 0) & (levels_db > loud - RELIABLE_RANGE_DB)


def has_voice(voicing: np.ndarray, levels_db: np.ndarray) -> bool:
    """Whether enough of the clip's sound is reliably voiced to call it a voice: trackers find a few
    'voiced' frames in any noise, so a share of the active frames is required, not just a count."""
    loud = np.percentile(levels_db, 99) if levels_db.size else 0.0
    active = int((levels_db > loud - RELIABLE_RANGE_DB).sum())
    voiced = int(voicing.sum())
    return voiced >= MIN_VOICED_FRAMES and voiced >= MIN_VOICED_SHARE * active


def pitch_stats(f0: np.ndarray, mask: np.ndarray | None = None) -> PitchStats | None:
    """None when there are too few voiced frames to say where the voice sits (whisper, noise, silence)."""
    voiced = f0[(f0 > 0) if mask is None else mask]
    if voiced.size < MIN_VOICED_FRAMES:
        return None
    semitones = 12 * np.log2(voiced / 440.0)
    low, median, high = np.percentile(semitones, [16, 50, 84])
    return PitchStats(float(440.0 * 2 ** (median / 12)), float(max((high - low) / 2, 0.1)), int(voiced.size))


def map_f0(f0: np.ndarray, shift_semitones: float, source: PitchStats | None = None,
           range_scale: float = 1.0) -> np.ndarray:
    """Move voiced frames by `shift_semitones` in log-F0, scaling their distance from the source's median."""
    out = f0.copy()
    voiced = f0 > 0
    semitones = 12 * np.log2(f0[voiced] / 440.0)
    centre = source.median_semitones if source else 0.0
    semitones = centre + (semitones - centre) * range_scale + shift_semitones
    out[voiced] = np.clip(440.0 * 2 ** (semitones / 12), 30.0, 2000.0)
    return out


def scale_vibrato(f0: np.ndarray, factor: float) -> np.ndarray:
    """Scale the 3.5-9 Hz modulation of each voiced run: 0 flattens vibrato, 1 keeps it, 2 doubles its depth."""
    from scipy.signal import butter, sosfiltfilt

    if factor == 1.0:
        return f0
    sos = butter(2, VIBRATO_BAND_HZ, btype="bandpass", fs=FRAME_RATE, output="sos")
    out = f0.copy()
    for start, end in voiced_runs(f0):
        if (end - start) / FRAME_RATE < MIN_VIBRATO_RUN_SECONDS:
            continue
        cents = 1200 * np.log2(f0[start:end])
        band = sosfiltfilt(sos, cents, padlen=min(3 * (2 * len(sos) + 1), end - start - 1))
        out[start:end] = 2 ** ((cents + (factor - 1.0) * band) / 1200)
    return out


def voiced_runs(f0: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame ranges where F0 > 0."""
    edges = np.diff(np.concatenate(([0], (f0 > 0).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))




def warp_envelope(envelope: np.ndarray, ratio: float) -> np.ndarray:
    """Each frame's spectral envelope stretched along frequency: ratio > 1 moves formants up (a smaller
    vocal tract, brighter), < 1 down. Interpolates in the log domain; the top bin is held past Nyquist."""
    if ratio == 1.0:
        return envelope
    bins = envelope.shape[1]
    position = np.minimum(np.arange(bins) / ratio, bins - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, bins - 1)
    weight = position - below
    log_env = np.log(np.maximum(envelope, 1e-16))
    warped = np.ascontiguousarray(log_env[:, below])
    warped *= 1 - weight
    warped += log_env[:, above] * weight
    return np.exp(warped, out=warped)


def mean_log_envelope(audio: np.ndarray, sample_rate: int, f0: np.ndarray, mask: np.ndarray,
                      max_seconds: float = 60.0) -> np.ndarray:
    """The voice's long-term spectral envelope (mean log power over the `mask`ed voiced frames of the first
    `max_seconds`), at frequencies `np.linspace(0, sample_rate / 2, bins)`."""
    from studio.audio.analysis import import_pyworld

    pyworld = import_pyworld()
    hop = sample_rate / FRAME_RATE
    frames = min(len(f0), int(max_seconds * FRAME_RATE))
    total, count = None, 0
    for start, end in _even_blocks(frames, int(20 * FRAME_RATE)):
        voiced = mask[start:end]
        if not voiced.any():
            continue
        chunk = audio[int(round(start * hop)):int(round((end - 1) * hop)) + 1].astype(np.float64)
        times = np.arange(end - start) / FRAME_RATE
        envelope = pyworld.cheaptrick(chunk, f0[start:end], times, sample_rate)[voiced]
        summed = np.log(np.maximum(envelope, 1e-16)).sum(axis=0)
        total = summed if total is None else total + summed
        count += int(voiced.sum())
    if total is None:
        raise ValueError("no voiced frames")
    return total / count


def formant_ratio(source_envelope: np.ndarray, target_envelope: np.ndarray, source_rate: int,
                  target_rate: int) -> float:
    """The frequency stretch that best maps the source's long-term envelope onto the target's, over the
    formant band on a log-frequency grid (levels removed, so loudness does not count)."""
    grid = np.geomspace(*FORMANT_BAND_HZ, 200)
    source_hz = np.linspace(0, source_rate / 2, len(source_envelope))
    target_hz = np.linspace(0, target_rate / 2, len(target_envelope))
    target = np.interp(grid, target_hz, target_envelope)
    target -= target.mean()
    best, best_error = 1.0, np.inf
    for ratio in np.geomspace(*FORMANT_SEARCH, 121):
        warped = np.interp(grid / ratio, source_hz, source_envelope)
        error = float(np.mean((warped - warped.mean() - target) ** 2))
        if error < best_error:
            best, best_error = float(ratio), error
    return best


def quiet_cuts(levels_db: np.ndarray, f0: np.ndarray, block_seconds: float | None = None) -> list[int]:
    """Frame indices where to cut long audio into blocks of about `block_seconds`.

    A cut lands in the quietest unvoiced frame from a little before a block's nominal end to CUT_EXTEND_SECONDS
    after it (a pause, a breath, a consonant): blocks are synthesised separately, and two renderings of the
    same voiced sound would not be in phase. Only a voiced stretch longer than that gets a voiced cut.
    """
    total = len(f0)
    step = int((block_seconds or BLOCK_SECONDS) * FRAME_RATE)
    before, after = int(CUT_SEARCH_SECONDS * FRAME_RATE), int(CUT_EXTEND_SECONDS * FRAME_RATE)
    if total <= step + before:
        return []
    voiced_penalty = np.ptp(levels_db) + 1000.0
    cuts: list[int] = []
    nominal = step
    while nominal < total - before:
        lo = max(nominal - before, (cuts[-1] if cuts else 0) + before)
        hi = min(nominal + after, total - before)
        if hi <= lo:
            break
        frames = np.arange(lo, hi)
        cost = levels_db[lo:hi] + (f0[lo:hi] > 0) * voiced_penalty \
            + CUT_DISTANCE_DB_PER_SECOND * np.abs(frames - nominal) / FRAME_RATE
        cuts.append(lo + int(np.argmin(cost)))
        nominal = cuts[-1] + step
    return cuts


def synthesise(audio: np.ndarray, sample_rate: int, f0: np.ndarray, new_f0: np.ndarray, formant: float,
               cuts: list[int], report: Report | None = None) -> np.ndarray:
    """WORLD resynthesis of `audio` with `new_f0` and the envelope warped by `formant`, in blocks split at
    the frames `cuts` (see quiet_cuts) and cross-faded there.

    `f0` is the analysed contour (it drives the envelope and aperiodicity analysis); the result has the
    length of `audio` and its sample rate.
    """
    from studio.audio.analysis import import_pyworld

    pyworld = import_pyworld()
    hop = sample_rate / FRAME_RATE
    total = len(f0)
    cuts = [0, *cuts, total]
    margin = int(BLOCK_MARGIN_SECONDS * FRAME_RATE)
    fade = max(int(CROSSFADE_SECONDS * sample_rate), 1)
    out = np.zeros(len(audio), np.float32)
    blocks = len(cuts) - 1
    for i in range(blocks):
        if report:
            report(i / blocks, f"Converting block {i + 1} of {blocks}" if blocks > 1 else "Converting")
        lo, hi = max(0, cuts[i] - margin), min(total, cuts[i + 1] + margin)
        first, last = int(round(lo * hop)), min(len(audio), int(round((hi - 1) * hop)) + 1)
        chunk = audio[first:last].astype(np.float64)
        times = np.arange(hi - lo) / FRAME_RATE
        envelope = pyworld.cheaptrick(chunk, f0[lo:hi], times, sample_rate)
        aperiodicity = pyworld.d4c(chunk, f0[lo:hi], times, sample_rate)
        envelope = warp_envelope(envelope, formant)
        voice = pyworld.synthesize(np.ascontiguousarray(new_f0[lo:hi]), envelope, aperiodicity, sample_rate,
                                   FRAME_MS)
        del envelope, aperiodicity
        voice = _fit(voice, last - first)
        positions = np.arange(first, last)
        weight = np.ones(last - first)
        if i > 0:
            weight *= np.clip((positions - (cuts[i] * hop - fade / 2)) / fade, 0, 1)
        if i < blocks - 1:
            weight *= np.clip(((cuts[i + 1] * hop + fade / 2) - positions) / fade, 0, 1)
        out[first:last] += (voice * weight).astype(np.float32)
    return out


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    return audio[:length] if len(audio) >= length else np.pad(audio, (0, length - len(audio)))
