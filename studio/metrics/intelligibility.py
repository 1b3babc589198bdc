"""Intelligibility (Amphion's wer and cer): the generated clip is transcribed by the studio's ASR and scored
against the given text, or against the reference clip's transcript when no text is given.

Each clip is transcribed once (Amphion's gt_audio mode transcribes the generated clip twice, see the catalog).
Both texts are normalised before scoring: lower case, punctuation removed, whitespace collapsed. CER counts
characters without spaces, as Amphion does.
"""
from __future__ import annotations

from .base import Group, Item, Metric, MetricError, Options, Scorers

WER = Metric("wer", "Word error rate", "", "text", False,
             "Word errors of the ASR transcript against the text (0 = every word right).", amphion="wer")
CER = Metric("cer", "Character error rate", "", "text", False,
             "Character errors (spaces ignored) of the ASR transcript against the text.", amphion="cer")


def normalise(text: str) -> str:
    import jiwer

    transform = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                               jiwer.Strip()])
    return transform(text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    truth, said = normalise(reference), normalise(hypothesis)
    if not truth:
        raise MetricError("the text to compare with has no words after normalisation.")
    return float(jiwer.wer(truth, said or ""))  # jiwer counts an empty hypothesis as all deletions


def character_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    truth, said = normalise(reference).replace(" ", ""), normalise(hypothesis).replace(" ", "")
    if not truth:
        raise MetricError("the text to compare with has no characters after normalisation.")
    return float(jiwer.cer(truth, said or ""))


def compute_intelligibility(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    text = (item.text or "").strip()
    if not text:
        reference, _ = item.pair()
        text = item.cached("reference_transcript", lambda: scorers.transcribe(reference, options))
        item.note(f"WER/CER compare with the reference clip's transcript: “{text}”.")
    said = item.cached("transcript", lambda: scorers.transcribe(item.generated, options))
    item.note(f"ASR heard: “{said}”.")
    return {"wer": word_error_rate(text, said), "cer": character_error_rate(text, said)}


GROUPS = (Group("asr", (WER, CER), compute_intelligibility),)
