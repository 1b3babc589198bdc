"""DualCodec as a codec: a clip encoded to Amphion's dual-stream tokens (w2v-BERT semantic tokens in the first
codebook, acoustic residual codes in the rest) and decoded back, as the `dualcodec` package's README does it
(`Inference.encode`, then `decode_from_codes`). Two released models: 12.5 Hz (1 + 7 codebooks) and 25 Hz (1 + 11).

The architectures come from the package's hydra configs; the `config` param names a fine-tune's dualcodec.yaml.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..contract import Engine, EngineError, InputSlot, InvalidRequest, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from . import deps
from . import maskgct_parts as parts
from .dualcodec_valle import CODEC, CODEC_REPO, instantiate

RATE = 24_000
SEMANTIC_CODES = 16_384


class Variant:
    def __init__(self, label: str, config: str, weights: Weights, hop: int, codebooks: int, codebook_size: int):
        self.label, self.config, self.weights = label, config, weights
        self.hop, self.codebooks, self.codebook_size = hop, codebooks, codebook_size

    @property
    def frame_rate(self) -> float:
        return RATE / self.hop

    def kbps(self, codebooks: int) -> float:
        """Bits per second of `codebooks` codebooks: the semantic one, then acoustic ones."""
        bits = math.log2(SEMANTIC_CODES) + (codebooks - 1) * math.log2(self.codebook_size)
        return self.frame_rate * bits / 1000


CODEC_25HZ = Weights("hub", CODEC_REPO, ("dualcodec_25hz_16384_1024.safetensors", "w2vbert2_mean_var_stats_emilia.pt"),
                     size_bytes=420_000_000, license="see the model card", label="DualCodec 25 Hz",
                     note="size estimated", when=(("model", "25hz_v1"),))
VARIANTS = {  # dualcodec.infer.dualcodec.get_model's model ids, files and configs
    "12hz_v1": Variant("12.5 Hz, 8 codebooks", "conf/model/dualcodec_12hz_16384_4096_8vq.yaml",
                       replace(CODEC, when=(("model", "12hz_v1"),)), 1920, 8, 4096),
    "25hz_v1": Variant("25 Hz, 12 codebooks", "conf/model/dualcodec_25hz_16384_1024_12vq.yaml", CODEC_25HZ, 960, 12,
                       1024),
}


class DualCodecCodec(Engine):
    id = "amphion.dualcodec"
    name = "DualCodec"
    task = "codec"
    family = "Amphion"
    summary = ("Amphion's low-frame-rate speech codec: semantic tokens from w2v-BERT 2.0 plus acoustic residual codes, "
               "about 0.2 to 1.5 kbit/s at 24 kHz.")
    sample_rate = RATE
    license = "see the model card"
    memory_mb = 3_000  # w2v-BERT 2.0 (2.3 GB in fp32) and the codec
    requirements = Requirements(python=(PythonModule("dualcodec", "dualcodec"), PythonModule("hydra", "hydra-core"),
                                        PythonModule("audiotools", "descript-audiotools")))
    weights = (deps.W2V_BERT_2, *(variant.weights for variant in VARIANTS.values()))
    inputs = (InputSlot("source", "audio", "Speech", min_seconds=0.5, max_seconds=600.0,
                        help="Speech (the codec was trained on speech); resampled to 24 kHz.",
                        carries=("content", "voice")),)
    params = (
        Param("model", "choice", "12hz_v1", choices=tuple((k, v.label) for k, v in VARIANTS.items()),
              affects_load=True, help="12.5 Hz: fewer tokens (for language models); 25 Hz: more detail."),
        Param("codebooks", "int", 8, min=1, max=12, step=1, label="Codebooks",
              help="How many of the model's codebooks to keep: 1 is the semantic tokens alone (content and rough "
                   "voice), each further one adds acoustic detail and bits. 12.5 Hz has 8, 25 Hz has 12."),
        Param("config", "text", "", label="Model config", advanced=True, affects_load=True,
              help="A folder with a fine-tune's dualcodec.yaml (hydra). Empty uses the package's config for the "
                   "model chosen above."),
    )

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> Request:
        request = super().validate(inputs, params)
        variant = VARIANTS[request.params["model"]]
        if request.params["codebooks"] > variant.codebooks:
            raise InvalidRequest(f"Codebooks: DualCodec {variant.label.split(',')[0]} has {variant.codebooks}; "
                                 f"choose 1 to {variant.codebooks}.")
        return request

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import dualcodec
        import safetensors.torch

        options = {**self.defaults(), **(options or {})}
        variant = VARIANTS[options["model"]]
        folders = parts.fetch(self.weights_for(options), progress.span(0.0, 0.6, "Weights"))
        progress(0.6, "Loading DualCodec and w2v-BERT 2.0")
        codec = instantiate(self._config(variant, options["config"]))
        safetensors.torch.load_model(codec, str(folders[variant.weights] / variant.weights.files[0]))
        kind = "cuda" if device.startswith("cuda") else "cpu"  # the package uses it as autocast's device_type
        return dualcodec.Inference(dualcodec_model=codec.eval(), dualcodec_path=str(folders[variant.weights]),
                                   w2v_path=str(folders[deps.W2V_BERT_2]), device=kind, autocast=kind == "cuda")

    @staticmethod
    def _config(variant: Variant, folder: str) -> Path:
        if folder.strip():
            path = Path(folder).expanduser() / "dualcodec.yaml"
            if not path.is_file():
                raise EngineError(f"Model config: {path} is missing. Leave it empty for the released model.")
            return path
        from dualcodec.utils import package_dir

        return Path(package_dir) / variant.config

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        from ..conversion_input import fit_length, read_source

        variant = VARIANTS[request.params["model"]]
        codebooks = request.params["codebooks"]
        source = read_source(request.inputs["source"].path, RATE)
        audio = source.audio
        progress(0.1, "Encoding")
        with torch.no_grad():
            semantic, acoustic = model.encode(torch.from_numpy(audio).reshape(1, 1, -1), n_quantizers=codebooks)
            progress(0.6, "Decoding")
            decoded = model.decode(semantic, acoustic if codebooks > 1 else None)
        out = fit_length(decoded.reshape(-1).float().cpu().numpy(), len(audio))  # whole frames in, whole frames out
        frames = int(semantic.shape[-1])
        return Result(out, RATE, {"codec": f"DualCodec {variant.label.split(',')[0]}", "codebooks": codebooks,
                                  "frame_rate": variant.frame_rate, "frames": frames,
                                  "bitrate_kbps": round(variant.kbps(codebooks), 3), "notes": source.notes})
