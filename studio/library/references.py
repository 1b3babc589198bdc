"""EngineReferences: a voice profile or a sample turned into the audio an engine's slot is given (the AudioRefs
hooks for {'profile': ...} and {'sample': ...}), choosing the profile's sample that suits the engine best."""
from __future__ import annotations

from engines.contract import Engine, InputSlot, InvalidRequest

from ..audio_refs import MissingAudio, ResolvedAudio
from . import doctor
from .records import NotFound, SampleInfo
from .store import LibraryStore


class EngineReferences:
    def __init__(self, store: LibraryStore) -> None:
        self._store = store

    def best_sample(self, profile_id: str, engine: Engine, slot: InputSlot) -> SampleInfo:
        """The profile's sample that suits the engine's slot best: length in its sweet spot, cleanest verdict,
        a transcript when the slot needs one; the newest wins a tie."""
        profile = self._store.profile(profile_id)
        samples = self._store.samples(profile_id)
        if not samples:
            raise InvalidRequest(f"The voice “{profile.name}” has no samples yet; add a recording first.")

        def score(sample: SampleInfo) -> tuple[float, float]:
            report = doctor.diagnose(sample.measures or {"duration": sample.duration, "sample_rate": sample.sample_rate,
                                                         "speech_ratio": 1, "leading_silence": 0,
                                                         "trailing_silence": 0, "clipping_ratio": 0}, [engine])
            fit = {"sweet": 3, "ok": 1, "too_short": -10, "too_long": -10}
            value = report.score + sum(fit[f.fit] for f in report.fits if f.slot == slot.name)
            if slot.needs_transcript:
                value += 2 if sample.transcript else -20
            return value, sample.created_at

        return max(samples, key=score)

    def resolve_sample(self, engine: Engine, slot: InputSlot, sample_id: str) -> ResolvedAudio | None:
        """{'sample': id} in an audio slot (the AudioRefs hook): that sample, or None when it is gone."""
        try:
            return self._resolved(self._store.sample(sample_id))
        except NotFound:
            return None

    def resolve_profile(self, engine: Engine, slot: InputSlot, key: str) -> ResolvedAudio | None:
        """{'profile': id or name} in an audio slot: the profile's best sample for this engine's slot."""
        try:
            profile = self._store.find_profile(key)
        except NotFound:
            raise MissingAudio(f"{slot.label}: there is no voice profile {key!r}.") from None
        return self._resolved(self.best_sample(profile.id, engine, slot))

    def _resolved(self, sample: SampleInfo) -> ResolvedAudio:
        details = {"profile": sample.profile_id, "profile_name": self._store.profile(sample.profile_id).name,
                   "sample": sample.id, "sample_name": sample.name}
        return ResolvedAudio(sample.normalised, sample.name, sample.duration, sample.transcript or None, details)
