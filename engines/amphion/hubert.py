"""fairseq HuBERT checkpoints (ContentVec, mHuBERT) on transformers' HubertModel, called the way fairseq is.

Amphion extracts ContentVec features (the singing conversion recipes) and mHuBERT units (Noro) with fairseq,
which does not install on Python 3.11 or newer. The networks themselves are plain HuBERT, which transformers
implements. `load_fairseq_hubert(path)` reads the fairseq checkpoint (its config and weights, no fairseq
needed), builds the same network as a `HubertModel`, and returns a module with fairseq's call signature, so
Amphion's own extractors (`ContentvecExtractor.extract_content_features`, `HubertExtractor`) run unchanged:

- `model.extract_features(source, padding_mask, output_layer=12)` -> (features, padding_mask), and
  `model.final_proj` (ContentVec's 768 -> 256 projection), as `ContentvecExtractor` calls them;
- `model(source, features_only=True, mask=False, output_layer=9)["x"]`, as `HubertExtractor` calls it.

fairseq semantics kept: a sample-level padding mask marks a frame as padding when all its samples are
(fairseq's `forward_padding_mask`); `output_layer=k` returns the output of the k-th transformer layer, and the
final layer norm of pre-LN models applies only when no layer is asked for.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ..contract import EngineError

# fairseq's HubertConfig defaults, for keys an older checkpoint may lack
FAIRSEQ_DEFAULTS: dict[str, Any] = {
    "extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu", "layer_norm_first": False, "conv_bias": False,
    "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2", "conv_pos": 128,
    "conv_pos_groups": 16,
}

# fairseq state-dict names -> transformers HubertModel names ("{}" is the layer number)
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^layer_norm\.(weight|bias)$", r"feature_projection.layer_norm.\1"),
    (r"^post_extract_proj\.(weight|bias)$", r"feature_projection.projection.\1"),
    (r"^encoder\.layer_norm\.(weight|bias)$", r"encoder.layer_norm.\1"),
    (r"^encoder\.pos_conv\.0\.bias$", r"encoder.pos_conv_embed.conv.bias"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.(k|v|q|out)_proj\.(weight|bias)$",
     r"encoder.layers.\1.attention.\2_proj.\3"),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$", r"encoder.layers.\1.layer_norm.\2"),
    (r"^encoder\.layers\.(\d+)\.fc1\.(weight|bias)$", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.fc2\.(weight|bias)$", r"encoder.layers.\1.feed_forward.output_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$", r"encoder.layers.\1.final_layer_norm.\2"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.weight$", r"feature_extractor.conv_layers.\1.conv.weight"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.bias$", r"feature_extractor.conv_layers.\1.conv.bias"),
    (r"^feature_extractor\.conv_layers\.0\.2\.(weight|bias)$", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)$",
     r"feature_extractor.conv_layers.\1.layer_norm.\2"),
    (r"^mask_emb$", r"masked_spec_embed"),
)
_TRAINING_ONLY = re.compile(r"^(label_embs_concat|final_proj\.|untie_final_proj|target_glu)")


def parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's `conv_feature_layers`, e.g. "[(512,10,5)] + [(512,3,2)] * 4", as (dim, kernel, stride) triples,
    read without eval."""
    layers: list[tuple[int, int, int]] = []
    for term in spec.replace(" ", "").split("+"):
        match = re.fullmatch(r"\[(.*)\](?:\*(\d+))?", term)
        if not match:
            raise EngineError(f"The HuBERT checkpoint's conv_feature_layers {spec!r} is not in fairseq's format.")
        triples = [tuple(int(n) for n in t) for t in re.findall(r"\((\d+),(\d+),(\d+)\)", match.group(1))]
        layers.extend(triples * int(match.group(2) or 1))  # type: ignore[arg-type]
    return layers


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config, state dict) of a fairseq checkpoint: plain containers and tensors, no fairseq classes."""
    import torch

    try:  # fairseq training checkpoints hold numpy scalars and argparse namespaces besides the tensors
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: say which
        raise EngineError(f"{path.name} could not be read as a fairseq checkpoint ({exc}). Download it again, "
                          f"or check that it is the fairseq HuBERT/ContentVec file.") from exc
    if not isinstance(state, dict) or "model" not in state:
        raise EngineError(f"{path.name} is not a fairseq checkpoint (it has no 'model' weights).")
    config: dict[str, Any] = {}
    if state.get("cfg") is not None and hasattr(state["cfg"], "get"):  # a dict, or omegaconf's DictConfig
        config = dict(state["cfg"].get("model") or {})
    elif state.get("args") is not None:  # checkpoints of fairseq before its dataclass configs
        config = dict(vars(state["args"]))
    return {**FAIRSEQ_DEFAULTS, **{k: v for k, v in config.items() if v is not None}}, dict(state["model"])


def hubert_config(config: dict[str, Any]) -> Any:
    """The transformers HubertConfig of a fairseq HuBERT model config."""
    from transformers import HubertConfig

    if config["extractor_mode"] not in ("default", "layer_norm"):
        raise EngineError(f"HuBERT feature extractor mode {config['extractor_mode']!r} is not supported.")
    layers = parse_conv_layers(config["conv_feature_layers"])
    return HubertConfig(
        hidden_size=config["encoder_embed_dim"], num_hidden_layers=config["encoder_layers"],
        num_attention_heads=config["encoder_attention_heads"], intermediate_size=config["encoder_ffn_embed_dim"],
        hidden_act=config["activation_fn"], feat_extract_activation="gelu",
        feat_extract_norm="group" if config["extractor_mode"] == "default" else "layer",
        conv_dim=[d for d, _, _ in layers], conv_kernel=[k for _, k, _ in layers],
        conv_stride=[s for _, _, s in layers], conv_bias=bool(config["conv_bias"]),
        num_conv_pos_embeddings=config["conv_pos"], num_conv_pos_embedding_groups=config["conv_pos_groups"],
        do_stable_layer_norm=bool(config["layer_norm_first"]), feat_proj_layer_norm=True,
        hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0,
        layerdrop=0.0, mask_time_prob=0.0, mask_feature_prob=0.0)


def transformers_state_dict(fairseq: dict[str, Any], model_keys: set[str]) -> dict[str, Any]:
    """The fairseq weights under transformers' names (the positional convolution's weight norm in whichever
    form this torch gives it); ValueError names any weight that has no place in the network."""
    weight_g = ("encoder.pos_conv_embed.conv.parametrizations.weight.original0"
                if "encoder.pos_conv_embed.conv.parametrizations.weight.original0" in model_keys
                else "encoder.pos_conv_embed.conv.weight_g")
    converted, unknown = {}, []
    for name, value in fairseq.items():
        if _TRAINING_ONLY.match(name):
            continue
        if name == "encoder.pos_conv.0.weight_g":
            converted[weight_g] = value
            continue
        if name == "encoder.pos_conv.0.weight_v":
            converted[weight_g.replace("original0", "original1").replace("weight_g", "weight_v")] = value
            continue
        for pattern, replacement in _RENAMES:
            if re.match(pattern, name):
                converted[re.sub(pattern, replacement, name)] = value
                break
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"weights with no place in a HuBERT network: {', '.join(unknown[:5])}")
    return converted


def load_fairseq_hubert(path: Path, device: str = "cpu") -> Any:
    """The checkpoint's network as a `FairseqHubert` module (eval mode, on `device`)."""
    import torch
    from transformers import HubertModel

    config, weights = read_checkpoint(path)
    network = HubertModel(hubert_config(config))
    if "masked_spec_embed" not in network.state_dict():
        weights.pop("mask_emb", None)
    try:
        converted = transformers_state_dict(weights, set(network.state_dict()))
        network.load_state_dict(converted, strict=True)
    except (ValueError, RuntimeError) as exc:
        raise EngineError(f"{path.name} does not fit a HuBERT network built from its own config: {exc}") from exc
    final_proj = None
    if "final_proj.weight" in weights:
        out_dim, in_dim = weights["final_proj.weight"].shape
        final_proj = torch.nn.Linear(in_dim, out_dim)
        final_proj.load_state_dict({"weight": weights["final_proj.weight"], "bias": weights["final_proj.bias"]})
    return fairseq_hubert_class()(network, final_proj).to(device).eval()


@functools.cache
def fairseq_hubert_class() -> type:
    """The FairseqHubert module class, defined on first use (engine modules import no torch at import time)."""
    import torch

    class FairseqHubert(torch.nn.Module):
        """A transformers HubertModel (and ContentVec's final projection) behind fairseq's HubertModel API."""

        def __init__(self, hubert: Any, final_proj: Any = None) -> None:
            super().__init__()
            self.hubert = hubert
            self.final_proj = final_proj

        def forward(self, source: Any, padding_mask: Any = None, mask: bool = False, features_only: bool = True,
                    output_layer: int | None = None) -> dict[str, Any]:
            if mask or not features_only:
                raise NotImplementedError("only feature extraction (features_only=True, mask=False) is supported")
            features = self.hubert.feature_extractor(source).transpose(1, 2)  # (B, frames, conv dim)
            if padding_mask is not None:
                padding_mask = frame_padding_mask(features, padding_mask)
            hidden = self.hubert.feature_projection(features)
            x = self._encode(hidden, padding_mask, output_layer)
            return {"x": x, "padding_mask": padding_mask, "features": features}

        def extract_features(self, source: Any, padding_mask: Any = None, mask: bool = False,
                             ret_conv: bool = False, output_layer: int | None = None) -> tuple[Any, Any]:
            result = self.forward(source, padding_mask=padding_mask, mask=mask, output_layer=output_layer)
            return (result["features"] if ret_conv else result["x"]), result["padding_mask"]

        def _encode(self, hidden: Any, padding_mask: Any, output_layer: int | None) -> Any:
            """fairseq's encoder(x, padding_mask, layer=output_layer - 1): the output after that layer; a layer
            number the network does not reach (or below 1) means after the last one, still without the final
            layer norm of a pre-LN encoder."""
            encoder = self.hubert.encoder
            layers = len(encoder.layers)
            attention = None if padding_mask is None else ~padding_mask
            reached = output_layer is not None and 1 <= output_layer < layers
            captured: list[Any] = []
            hook = None
            if output_layer is not None and not reached and self.hubert.config.do_stable_layer_norm:
                hook = encoder.layers[-1].register_forward_hook(lambda m, i, o: captured.append(o[0]))
            try:
                out = encoder(hidden, attention_mask=attention, output_hidden_states=reached)
            finally:
                if hook is not None:
                    hook.remove()
            if reached:
                return out.hidden_states[output_layer]
            return captured[0] if captured else out.last_hidden_state

    return FairseqHubert


def frame_padding_mask(features: Any, padding_mask: Any) -> Any:
    """fairseq's forward_padding_mask: a frame is padding when every sample it covers is."""
    extra = padding_mask.size(1) % features.size(1)
    if extra > 0:
        padding_mask = padding_mask[:, :-extra]
    return padding_mask.view(padding_mask.size(0), features.size(1), -1).all(-1)
