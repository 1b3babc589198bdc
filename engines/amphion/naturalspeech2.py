"""NaturalSpeech2 (Amphion's LibriTTS checkpoint): zero-shot English TTS, latent diffusion over EnCodec latents.

NS2Inference builds the model from `--checkpoint_path` (a folder with pytorch_model.bin), EnCodec 24 kHz (fetched
separately into torch.hub's cache, catalog trap 18) and English G2P from the checkout's lexicon plus g2p_en (NLTK
data, trap 17). The hub repository carries no config: like Amphion's run_inference.sh the engine reads
egs/tts/NaturalSpeech2/exp_config.json from the checkout, or the config a fine-tune names.

NS2Inference.inference() writes its result to `<output_dir>/<text with spaces as _>.wav`: the engine passes the
text as the recipe does, with "/" (which would name a folder) spoken as a space, and reads that file back. The
reference's EnCodec codes are kept in the voice prompt cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import AudioInput, EngineError, InputSlot, InvalidRequest, Param, Progress, Request, Result
from . import deps, traps
from .fastspeech2 import check_lexicon
from .prompt_codes import encodec_cached
from .recipes import RecipeEngine, hub_folder, seed_everything

REPO = "amphion/naturalspeech2_libritts"
CHECKPOINT = "checkpoint/epoch-0089_step-0512912_loss-6.367693"
STOCK_CONFIG = "egs/tts/NaturalSpeech2/exp_config.json"
NAME_LIMIT = 250  # bytes of a file name, less ".wav"


def output_name(text: str) -> str:
    """The file name NS2Inference.inference() gives its result for `text` (after the engine's "/" fix)."""
    return text.replace(" ", "_", 100) + ".wav"


def diffusion_progress(model: Any, steps: int, progress: Progress) -> Any:
    """A hook on the diffusion estimator: one report per reverse step (and the chance to cancel between them)."""
    estimator = model.diffusion.diff_estimator
    per_step = 2 if getattr(model.diffusion.cfg, "ode_solver", "euler") == "midpoint" else 1
    calls = [0]

    def hook(module: Any, inputs: Any) -> None:
        calls[0] += 1
        if calls[0] % per_step == 0:
            step = calls[0] // per_step
            progress(step / steps, f"Diffusion step {step} of {steps}")

    return estimator.register_forward_pre_hook(hook)


class NaturalSpeech2TTS(RecipeEngine):
    id = "amphion.naturalspeech2"
    name = "NaturalSpeech2"
    summary = ("Amphion's NaturalSpeech2 (LibriTTS): English speech in the voice of a short reference clip, by "
               "latent diffusion over EnCodec's codec latents. Amphion marks the recipe as still developing.")
    sample_rate = 24_000
    memory_mb = 2_000
    inputs = (
        InputSlot("text", "text", "Text", max_chars=10_000, chunk_chars=200,
                  help="English text; words come from the LibriSpeech lexicon, others from g2p_en."),
        InputSlot("reference", "audio", "Reference voice", min_seconds=1.0, max_seconds=30.0, sweet_spot=(3.0, 10.0),
                  carries=("voice", "style"), help="A clean clip of the voice to speak with; no transcript needed."),
    )
    params = (
        Param("inference_steps", "int", 200, min=1, max=1000, step=1, unit="steps", label="Diffusion steps",
              help="Reverse diffusion steps: fewer is faster and rougher (Amphion's default is 200)."),
        Param("seed", "seed", -1, help="The diffusion starts from noise drawn with this seed: the same seed gives "
                                       "the same audio; -1 draws a new one."),
        Param("config", "text", "", advanced=True, affects_load=True, label="Config file",
              help=f"For a fine-tuned checkpoint: its config (absolute path). Empty uses the checkout's "
                   f"{STOCK_CONFIG}."),
    )
    weights = (hub_folder(REPO, (f"{CHECKPOINT}/pytorch_model.bin",), 1_700_000_000, "NaturalSpeech2 LibriTTS"),
               deps.ENCODEC_24KHZ) + deps.G2P_EN_DATA

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        from engines.weights.cache import nltk_data
        from engines.weights import ensure

        folder = ensure(self.weights[0], progress.span(0, 0.6))
        for extra in self.weights[1:]:
            ensure(extra, progress.span(0.6, 0.7))
        config = (options or {}).get("config") or ""
        if config and not Path(config).is_absolute():
            raise EngineError(f"Config file: give an absolute path (got {config!r}).")
        cfg = self.load_config(Path(config) if config else self.runtime.root / STOCK_CONFIG)
        check_lexicon(cfg, self.runtime.root)
        with self.runtime.session():
            traps.use_nltk_data(nltk_data())
        recipe = self.build(cfg, progress.span(0.7, 1), checkpoint_path=str(folder / CHECKPOINT), device=device)
        recipe.inference.model.eval()
        return recipe

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import soundfile as sf

        reference: AudioInput = request.inputs["reference"]
        text = request.inputs["text"].replace("/", " ").replace("\0", " ").strip()
        name = output_name(text)
        if len(name.encode()) > NAME_LIMIT:
            raise InvalidRequest("Text: NaturalSpeech2 names its output file after the text, and this part is too "
                                 "long for a file name; shorten it or add sentence breaks.")
        steps = request.params["inference_steps"]
        model.args.text, model.args.ref_audio, model.args.inference_step = text, reference.path, steps
        target = Path(model.args.output_dir) / name
        target.unlink(missing_ok=True)
        progress(0.0, "Encoding the reference and reading the text")
        hook = diffusion_progress(model.inference.model, steps, progress.span(0.05, 0.95))
        try:
            with self.runtime.session(), encodec_cached(model.inference, "codec", request, reference):
                seed_everything(request.params["seed"])
                model.inference.inference()
        finally:
            hook.remove()
        audio, rate = sf.read(str(target), dtype="float32")
        target.unlink(missing_ok=True)
        progress(1.0, "Done")
        return Result(audio, rate, {"inference_steps": steps})
