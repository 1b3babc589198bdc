"""A source longer than a model takes is converted in pieces cut in its pauses and joined back to its length
(engines/conversion_input.py), whatever rate the model returns."""
from __future__ import annotations

import numpy as np

from engines.contract import Progress
from engines.conversion_input import JOIN_SECONDS, SourceAudio, convert_in_pieces, pauses

RATE = 16_000


def speech_with_pauses(seconds: float, pauses_at: list[float]) -> np.ndarray:
    """A steady tone with 0.3 s of silence starting at each of `pauses_at`."""
    audio = 0.3 * np.sin(2 * np.pi * 180 * np.arange(int(seconds * RATE)) / RATE).astype(np.float32)
    for start in pauses_at:
        audio[int(start * RATE):int((start + 0.3) * RATE)] = 0.0
    return audio


def test_a_long_source_is_cut_in_its_pauses_within_the_piece_length() -> None:
    audio = speech_with_pauses(70.0, [12.0, 24.0, 47.0])
    cuts = pauses(audio, RATE, longest=30.0, shortest=20.0)
    assert [round(c.start / RATE, 1) for c in cuts] == [0.0, 24.0, 47.0]  # the pause at 12 s is too early
    assert all(c.stop - c.start <= 30 * RATE for c in cuts) and cuts[-1].stop == len(audio)
    assert pauses(audio[:29 * RATE], RATE, longest=30.0, shortest=20.0) == [slice(0, 29 * RATE)]


def test_the_last_piece_is_never_a_sliver() -> None:
    # the quietest moment is 0.9 s before the end: cutting there would leave 0.9 s to convert on its own
    audio = speech_with_pauses(30.5, [22.0, 29.6])
    audio[int(22.0 * RATE):int(22.3 * RATE)] = 0.01  # a softer pause, the only one far enough from the end
    cuts = pauses(audio, RATE, longest=30.0, shortest=20.0)
    assert len(cuts) == 2 and round(cuts[1].start / RATE, 1) == 22.0
    no_other = speech_with_pauses(30.2, [29.5])  # no pause but the one too near the end
    cuts = pauses(no_other, RATE, longest=30.0, shortest=20.0)
    assert len(cuts) == 2 and cuts[1].stop - cuts[1].start >= RATE and cuts[0].stop - cuts[0].start >= 20 * RATE


def test_pieces_converted_at_another_rate_are_joined_to_the_sources_duration() -> None:
    audio = speech_with_pauses(65.3, [25.0, 50.0])
    stages: list[str] = []
    seen: list[int] = []

    def louder_at_24k(piece: np.ndarray, progress: Progress) -> np.ndarray:
        progress(0.5, "Converting")
        seen.append(len(piece))
        return np.repeat(2 * piece, 3)[::2]  # 16 kHz in, 24 kHz out (a stand-in model with a known answer)

    source = SourceAudio(audio, RATE, RATE, 1)
    joined, blocks = convert_in_pieces(source, 24_000, louder_at_24k,
                                       Progress(lambda fraction, stage: stages.append(stage)), (20.0, 30.0))
    assert blocks == 3 and len(joined) == round(65.3 * 24_000)
    assert sum(seen) == len(audio) + 2 * int(0.05 * RATE)  # each piece runs on into the next by the cross-fade
    assert stages == [f"Part {i} of 3 · Converting" for i in (1, 2, 3)]
    inside = slice(30 * 24_000, 31 * 24_000)  # away from the joins at 25 s and 50 s: the piece's own output
    assert np.allclose(joined[inside], np.repeat(2 * audio, 3)[::2][inside], atol=1e-6)


def test_pieces_of_a_model_that_sets_its_own_pace_keep_the_lengths_it_made() -> None:
    audio = speech_with_pauses(65.3, [25.0, 50.0])

    def slower(piece: np.ndarray, progress: Progress) -> np.ndarray:
        return np.repeat(piece, 2)  # twice as long (an AR model speaking at its own pace)

    joined, blocks = convert_in_pieces(SourceAudio(audio, RATE, RATE, 1), RATE, slower, Progress(), (20.0, 30.0),
                                       keep_timing=False)
    join = int(JOIN_SECONDS * RATE)
    # each piece (run on by a join) twice over, less the two joins' cross-fades
    assert blocks == 3 and len(joined) == 2 * (len(audio) + 2 * join) - 2 * join
