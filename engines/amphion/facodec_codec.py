"""FACodec (NaturalSpeech 3's codec) as a codec: Amphion's FACodecEncoder and FACodecDecoder built as its README
builds them, on amphion/naturalspeech3_facodec. Speech at 16 kHz is factorised into 80 Hz codes for prosody (1
codebook), content (2) and acoustic detail (3), plus one speaker embedding per clip, and decoded back."""
from __future__ import annotations

from typing import Any

from ..contract import EngineError, InputSlot, Param, Progress, Request, Result, Weights
from ..requirements import PythonModule, Requirements
from . import deps
from .base import AmphionEngine

RATE = 16_000
HOP = 200  # the encoder's up_ratios 2 x 4 x 5 x 5
CODE_BITS = 10  # codebook_size_* = 10: 1024 codes each
PROSODY, CONTENT, RESIDUAL = 1, 2, 3  # codebooks of each factor (vq_num_q_p, vq_num_q_c, vq_num_q_r)


def build_facodec() -> tuple[Any, Any]:
    """The encoder and decoder with the released model's sizes (models/codec/ns3_codec/README.md); call inside
    the Amphion runtime's session."""
    from models.codec.ns3_codec import FACodecDecoder, FACodecEncoder

    encoder = FACodecEncoder(ngf=32, up_ratios=[2, 4, 5, 5], out_channels=256)
    decoder = FACodecDecoder(in_channels=256, upsample_initial_channel=1024, ngf=32, up_ratios=[5, 5, 4, 2],
                             vq_num_q_c=CONTENT, vq_num_q_p=PROSODY, vq_num_q_r=RESIDUAL, vq_dim=256, codebook_dim=8,
                             codebook_size_prosody=CODE_BITS, codebook_size_content=CODE_BITS,
                             codebook_size_residual=CODE_BITS, use_gr_x_timbre=True, use_gr_residual_f0=True,
                             use_gr_residual_phone=True)
    return encoder, decoder


class FACodecCodec(AmphionEngine):
    id = "amphion.facodec"
    name = "FACodec (NaturalSpeech 3)"
    task = "codec"
    summary = ("Factorised codec: prosody, content and acoustic-detail codes at 80 Hz plus a speaker embedding; drop "
               "the detail codes to hear what prosody and content alone carry.")
    sample_rate = RATE
    license = "see the model card"
    memory_mb = 900
    HUB_REPO = "amphion/naturalspeech3_facodec"
    weights = (Weights("hub", HUB_REPO, ("ns3_facodec_encoder.bin", "ns3_facodec_decoder.bin"),
                       size_bytes=409_000_000, license="see the model card", note="size from the architecture"),)
    requirements = Requirements(amphion=True, python=(PythonModule("torch", "torch"), deps.EINOPS))
    inputs = (InputSlot("source", "audio", "Speech", min_seconds=0.1, max_seconds=600.0,
                        help="Speech; resampled to 16 kHz, and the result is 16 kHz.", carries=("content", "voice")),)
    params = (Param("residual", "bool", True, label="Acoustic detail codes",
                    help="Off decodes from the prosody and content codes and the speaker embedding only."),)

    def load(self, device: str, progress: Progress, options: dict[str, Any] | None = None) -> Any:
        import pickle

        import torch

        from engines.weights import ensure

        folder = ensure(self.weights[0], progress.span(0, 0.8))
        progress(0.85, "Building FACodec")
        with self.runtime.session():
            encoder, decoder = build_facodec()
        for module, name in ((encoder, "ns3_facodec_encoder.bin"), (decoder, "ns3_facodec_decoder.bin")):
            try:
                module.load_state_dict(torch.load(str(folder / name), map_location="cpu", weights_only=True))
            except (pickle.UnpicklingError, RuntimeError) as error:
                raise EngineError(f"{folder / name} does not load into Amphion's FACodec ({error}); download "
                                  f"{self.HUB_REPO} again.") from error
        return encoder.eval().to(device), decoder.eval().to(device), device

    def run(self, model: Any, request: Request, progress: Progress) -> Result:
        import torch

        from ..conversion_input import fit_length, read_source

        encoder, decoder, device = model
        residual = request.params["residual"]
        source = read_source(request.inputs["source"].path, RATE)
        audio = source.audio
        progress(0.1, "Encoding")
        with self.runtime.session(), torch.no_grad():
            encoded = encoder(torch.from_numpy(audio).reshape(1, 1, -1).to(device))
            embedding, codes, _, _, speaker = decoder(encoded, eval_vq=False, vq=True)
            if not residual:
                embedding = decoder.vq2emb(codes, use_residual_code=False)
            progress(0.5, "Decoding")
            decoded = decoder.inference(embedding, speaker).reshape(-1).float().cpu().numpy()
        out = fit_length(decoded, len(audio))  # whole frames in, whole frames out
        codebooks = PROSODY + CONTENT + (RESIDUAL if residual else 0)
        return Result(out, RATE, {"codec": "FACodec", "codebooks": codebooks, "frame_rate": RATE / HOP,
                                  "frames": int(codes.shape[-1]),
                                  "bitrate_kbps": round(RATE / HOP * codebooks * CODE_BITS / 1000, 3),
                                  "notes": source.notes})

