"""Qwen3-TTS through the `qwen-tts` package, in its isolated runtime (it pins transformers 4.57.3).

Three checkpoint kinds, one engine: voice clone from a reference clip and its transcript (Base), the nine
built-in voices with an optional style instruction (CustomVoice), and a voice designed from a description
(VoiceDesign, 1.7B only). Sizes 0.6B and 1.7B; the sampling controls are qwen-tts's `generate_*` arguments
(talker and sub-talker), with its defaults.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..contract import InputSlot, InvalidRequest, Param, Request, Weights
from ..isolated.engine import IsolatedEngine

LANGUAGES = (("Auto", "detect from the text"), ("English", "English"), ("Chinese", "Chinese"),
             ("Japanese", "Japanese"), ("Korean", "Korean"), ("German", "German"), ("French", "French"),
             ("Russian", "Russian"), ("Portuguese", "Portuguese"), ("Spanish", "Spanish"), ("Italian", "Italian"))
SPEAKERS = (("Vivian", "Vivian: bright, slightly edgy young woman (Chinese)"),
            ("Serena", "Serena: warm, gentle young woman (Chinese)"),
            ("Uncle_Fu", "Uncle Fu: seasoned, low mellow man (Chinese)"),
            ("Dylan", "Dylan: youthful Beijing man (Beijing dialect)"),
            ("Eric", "Eric: lively Chengdu man (Sichuan dialect)"),
            ("Ryan", "Ryan: dynamic man with rhythmic drive (English)"),
            ("Aiden", "Aiden: sunny American man (English)"),
            ("Ono_Anna", "Ono Anna: playful young woman (Japanese)"),
            ("Sohee", "Sohee: warm Korean woman (Korean)"))
MODES = (("clone", "Voice clone (reference clip + transcript)"), ("custom", "Built-in voices"),
         ("design", "Voice design (describe the voice; 1.7B)"))
# (mode, size) -> (hub repository, bytes)
REPOS: dict[tuple[str, str], tuple[str, int]] = {
    ("clone", "0.6B"): ("Qwen/Qwen3-TTS-12Hz-0.6B-Base", 2_520_000_000),
    ("clone", "1.7B"): ("Qwen/Qwen3-TTS-12Hz-1.7B-Base", 4_540_000_000),
    ("custom", "0.6B"): ("Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice", 2_500_000_000),
    ("custom", "1.7B"): ("Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice", 4_540_000_000),
    ("design", "1.7B"): ("Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign", 4_520_000_000),
}


class Qwen3TTS(IsolatedEngine):
    id = "peer.qwen3_tts"
    name = "Qwen3-TTS"
    task = "tts"
    family = "Qwen3-TTS"
    summary = ("Multilingual speech from a 12.5 Hz codec language model: clone a voice from 3 s of reference, "
               "pick one of nine built-in voices, or describe a new one.")
    languages = ("zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it")
    sample_rate = 24_000
    license = "Apache-2.0"
    memory_mb = 3_500  # 0.6B in bfloat16 plus the runtime process; the manager measures the real footprint
    runtime_name = "qwen-tts"
    adapter = "engines.isolated.adapters.qwen3_tts"
    prompt_slot = "reference"  # voice clone: the reference's codec frames and speaker embedding
    inputs = (
        InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=400,
                  help="What to say, in any of the ten languages. Longer text is spoken in parts of up to 400 "
                       "characters (well inside the maximum length even for Chinese), cut at sentence ends and "
                       "joined with a short cross-fade."),
        InputSlot("reference", "audio", "Reference voice", required=False, min_seconds=1.0, max_seconds=60.0,
                  sweet_spot=(3.0, 15.0), needs_transcript=True, carries=("voice", "style"),
                  help="Voice clone only: a clean clip of the voice and exactly what it says."),
    )
    params = (
        Param("mode", "choice", "clone", choices=MODES, affects_load=True,
              help="Which Qwen3-TTS checkpoint: clone a reference, a built-in voice, or a described voice."),
        Param("size", "choice", "0.6B", choices=(("0.6B", "0.6B (faster)"), ("1.7B", "1.7B (better)")),
              affects_load=True, help="Model size; voice design and style instructions need 1.7B."),
        Param("language", "choice", "Auto", choices=LANGUAGES, help="The language of the text; Auto detects it."),
        Param("speaker", "choice", "Ryan", choices=SPEAKERS, help="Built-in voices only: who speaks."),
        Param("instruct", "text", "", label="Voice description / instruction",
              help="Voice design: describe the voice (required). Built-in voices at 1.7B: how to say it."),
        Param("x_vector_only", "bool", False, label="Clone without transcript", advanced=True,
              help="Voice clone from the speaker embedding alone: no transcript needed, usually less faithful."),
        Param("seed", "seed", -1, help="The same seed and settings give the same audio; -1 draws a new one."),
        Param("temperature", "float", 0.9, min=0.1, max=2.0, step=0.05, advanced=True,
              help="Randomness of the talker's sampling; lower is steadier, higher more varied."),
        Param("top_k", "int", 50, min=1, max=500, step=1, advanced=True, help="Sample among the k likeliest codes."),
        Param("top_p", "float", 1.0, min=0.05, max=1.0, step=0.05, advanced=True,
              help="Nucleus sampling: keep the likeliest codes up to this probability mass (1 keeps all)."),
        Param("repetition_penalty", "float", 1.05, min=1.0, max=2.0, step=0.01, advanced=True,
              help="Discourages repeating the same codes (stutters, loops)."),
        Param("do_sample", "bool", True, advanced=True, label="Sample", help="Off: greedy decoding (flatter)."),
        Param("subtalker_temperature", "float", 0.9, min=0.1, max=2.0, step=0.05, advanced=True,
              help="Temperature of the sub-talker that predicts the 15 residual codebooks."),
        Param("subtalker_top_k", "int", 50, min=1, max=500, step=1, advanced=True,
              help="Top-k of the sub-talker."),
        Param("subtalker_top_p", "float", 1.0, min=0.05, max=1.0, step=0.05, advanced=True,
              help="Top-p of the sub-talker."),
        Param("subtalker_dosample", "bool", True, advanced=True, label="Sub-talker samples",
              help="Off: the residual codebooks are decoded greedily."),
        Param("max_new_tokens", "int", 2048, min=16, max=8192, step=16, unit="frames", advanced=True,
              label="Maximum length", help="Upper bound on the speech generated for each part of the text, in "
                                           "80 ms codec frames (2048 is about 2 min 44 s)."),
    )
    weights = tuple(Weights("hub", repo, size_bytes=size, license="Apache-2.0",
                            label=f"Qwen3-TTS {size_name} {repo.rsplit('-', 1)[1]}",
                            when=(("mode", mode), ("size", size_name)))
                    for (mode, size_name), (repo, size) in REPOS.items())

    def prompt_key(self, request: Request) -> list[Any] | None:
        """Clone prompts only; without the transcript under x_vector_only, which encodes the voice alone."""
        key = super().prompt_key(request)
        if key is None or request.params["mode"] != "clone":
            return None
        if request.params["x_vector_only"]:
            key[0] = replace(key[0], transcript=None)
        return key + [request.params["x_vector_only"]]

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> Request:
        request = super().validate(inputs, params)
        p = request.params
        if (p["mode"], p["size"]) not in REPOS:
            raise InvalidRequest("Voice design exists only as the 1.7B model: choose Size 1.7B.")
        if p["mode"] == "clone" and "reference" not in request.inputs:
            raise InvalidRequest("Reference voice: voice cloning needs a reference clip (and its transcript).")
        reference = request.inputs.get("reference")
        if p["mode"] == "clone" and not p["x_vector_only"] and not getattr(reference, "transcript", None) \
                and not (isinstance(reference, dict) and reference.get("transcript")):
            raise InvalidRequest("Reference voice: enter its transcript (exactly what it says), or switch on "
                                 "'Clone without transcript'.")
        if p["mode"] == "design" and not p["instruct"].strip():
            raise InvalidRequest("Voice description: describe the voice to design (age, timbre, mood, pace).")
        return request
