"""Chatterbox through the `chatterbox-tts` package, in its isolated runtime (it pins transformers 5.2.0 and
torch 2.6.0, which does not exist for CUDA 13: the runtime uses the machine's torch instead).

English and the 23-language multilingual model; zero-shot from a reference clip (or the built-in voice), with
the emotion exaggeration, CFG weight and sampling controls of `generate()`, the maximum length, and S3Gen's
flow-matching steps. Every output carries Resemble AI's Perth watermark, as the package intends.
"""
from __future__ import annotations

from ..contract import InputSlot, Param, Weights
from ..isolated.engine import IsolatedEngine

REPO = "ResembleAI/chatterbox"
LANGUAGES = (("en", "English"), ("ar", "Arabic"), ("da", "Danish"), ("de", "German"), ("el", "Greek"),
             ("es", "Spanish"), ("fi", "Finnish"), ("fr", "French"), ("he", "Hebrew"), ("hi", "Hindi"),
             ("it", "Italian"), ("ja", "Japanese"), ("ko", "Korean"), ("ms", "Malay"), ("nl", "Dutch"),
             ("no", "Norwegian"), ("pl", "Polish"), ("pt", "Portuguese"), ("ru", "Russian"), ("sv", "Swedish"),
             ("sw", "Swahili"), ("tr", "Turkish"), ("zh", "Chinese"))


class ChatterboxTTS(IsolatedEngine):
    id = "peer.chatterbox"
    name = "Chatterbox"
    task = "tts"
    family = "Chatterbox"
    summary = ("Expressive zero-shot speech from Resemble AI with an emotion-exaggeration control; English, or 23 "
               "languages with the multilingual model. Outputs are watermarked (Perth).")
    languages = tuple(code for code, _ in LANGUAGES)
    sample_rate = 24_000
    license = "MIT"
    memory_mb = 4_500  # the 0.5B T3 and S3Gen in float32 plus the runtime process
    runtime_name = "chatterbox-tts"
    adapter = "engines.isolated.adapters.chatterbox_tts"
    prompt_slot = "reference"  # its Conditionals (speaker embedding, prompt tokens, S3Gen reference features)
    inputs = (
        InputSlot("text", "text", "Text", max_chars=20_000, chunk_chars=300,
                  help="What to say. Longer text is spoken in parts of up to 300 characters (what Resemble AI's "
                       "apps take at once, about 20 s), cut at sentence ends and joined with a short cross-fade."),
        InputSlot("reference", "audio", "Reference voice", required=False, min_seconds=1.0, max_seconds=60.0,
                  sweet_spot=(5.0, 10.0), carries=("voice", "style"),
                  help="The voice to speak with (its first 10 s are used); without one, the built-in voice speaks."),
    )
    params = (
        Param("model", "choice", "english", choices=(("english", "English"), ("multilingual", "Multilingual (23)")),
              affects_load=True, help="The English model, or the multilingual one (pick the language below)."),
        Param("language", "choice", "en", choices=LANGUAGES, help="Multilingual model only: the text's language."),
        Param("exaggeration", "float", 0.5, min=0.25, max=2.0, step=0.05,
              help="Emotion intensity: 0.5 is neutral, higher is more dramatic (extreme values can be unstable)."),
        Param("cfg_weight", "float", 0.5, min=0.0, max=1.0, step=0.05, label="CFG weight / pace",
              help="Classifier-free guidance; lower slows and loosens the delivery (try 0.3 with high "
                   "exaggeration), 0 turns it off."),
        Param("temperature", "float", 0.8, min=0.05, max=5.0, step=0.05, help="Sampling randomness."),
        Param("seed", "seed", -1, help="The same seed and settings give the same audio; -1 draws a new one."),
        Param("min_p", "float", 0.05, min=0.0, max=1.0, step=0.01, advanced=True,
              help="Min-p sampling: drop tokens below this fraction of the likeliest one (0 turns it off; 0.02 to "
                   "0.1 suit higher temperatures)."),
        Param("top_p", "float", 1.0, min=0.0, max=1.0, step=0.01, advanced=True,
              help="Nucleus sampling (1 turns it off)."),
        Param("repetition_penalty", "float", 1.2, min=1.0, max=2.0, step=0.05, advanced=True,
              help="Discourages repeated speech tokens (the multilingual demo uses 2.0)."),
        Param("max_new_tokens", "int", 1000, min=25, max=4096, step=25, unit="tokens", advanced=True,
              label="Maximum length", help="Upper bound on the speech generated for each part of the text, in "
                                           "speech tokens (25 per second; 1000 is 40 s)."),
        Param("flow_steps", "int", 10, min=1, max=50, step=1, unit="steps", advanced=True,
              label="Decoder steps", help="S3Gen flow-matching steps from speech tokens to audio: fewer is faster "
                                          "and rougher."),
    )
    weights = (
        Weights("hub", REPO, ("ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json",
                              "conds.pt"), size_bytes=3_200_000_000, license="MIT", label="Chatterbox (English)",
                when=(("model", "english"),)),
        Weights("hub", REPO, ("ve.pt", "t3_mtl23ls_v2.safetensors", "s3gen.pt", "grapheme_mtl_merged_expanded_v1.json",
                              "conds.pt", "Cangjie5_TC.json"), size_bytes=3_200_000_000, license="MIT",
                label="Chatterbox Multilingual", when=(("model", "multilingual"),)),
    )
