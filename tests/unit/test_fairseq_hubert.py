"""fairseq HuBERT checkpoints (ContentVec, mHuBERT) on transformers, checked against torchaudio's independent
importer of the same fairseq weights: same layer outputs, same padding semantics, the ContentVec projection."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engines.amphion.hubert import load_fairseq_hubert, parse_conv_layers
from engines.contract import EngineError

CONV = "[(32,10,5)] + [(32,3,2)] * 2 + [(32,2,2)]"


def fairseq_checkpoint(path: Path, *, layer_norm_first: bool, layers: int = 3, final_dim: int = 16) -> Path:
    """A tiny fairseq HuBERT training checkpoint: fairseq's key names, config under cfg["model"], random weights."""
    from torchaudio.models import wav2vec2_model
    from torchaudio.models.wav2vec2.utils.import_fairseq import _map_key

    mode = "layer_norm" if layer_norm_first else "default"
    conv = parse_conv_layers(CONV)
    reference = wav2vec2_model(
        extractor_mode="layer_norm" if layer_norm_first else "group_norm", extractor_conv_layer_config=conv,
        extractor_conv_bias=False, encoder_embed_dim=48, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4, encoder_num_layers=layers, encoder_num_heads=4, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=96, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=layer_norm_first, encoder_layer_drop=0.0, aux_num_out=None)
    shapes = {k.replace("parametrizations.weight.original0", "weight_g")
               .replace("parametrizations.weight.original1", "weight_v"): v.shape
              for k, v in reference.state_dict().items()}
    names = [f"feature_extractor.conv_layers.{i}.0.weight" for i in range(len(conv))]
    names += ([f"feature_extractor.conv_layers.{i}.2.1.{p}" for i in range(len(conv)) for p in ("weight", "bias")]
              if layer_norm_first else ["feature_extractor.conv_layers.0.2.weight", "feature_extractor.conv_layers.0.2.bias"])
    names += [f"{m}.{p}" for m in ("layer_norm", "post_extract_proj", "encoder.layer_norm") for p in ("weight", "bias")]
    names += ["encoder.pos_conv.0.bias", "encoder.pos_conv.0.weight_g", "encoder.pos_conv.0.weight_v"]
    for i in range(layers):
        for module in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj",
                       "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"):
            names += [f"encoder.layers.{i}.{module}.weight", f"encoder.layers.{i}.{module}.bias"]
    generator = torch.Generator().manual_seed(3)
    model = {name: torch.randn(shapes[_map_key(name)], generator=generator) * 0.3 for name in names}
    model["mask_emb"] = torch.rand(48, generator=generator)
    model["final_proj.weight"] = torch.randn(final_dim, 48, generator=generator) * 0.3
    model["final_proj.bias"] = torch.randn(final_dim, generator=generator)
    model["label_embs_concat"] = torch.randn(50, final_dim, generator=generator)
    cfg = {"model": {"_name": "hubert", "extractor_mode": mode, "encoder_layers": layers, "encoder_embed_dim": 48,
                     "encoder_ffn_embed_dim": 96, "encoder_attention_heads": 4, "activation_fn": "gelu",
                     "layer_norm_first": layer_norm_first, "conv_feature_layers": CONV, "conv_bias": False,
                     "conv_pos": 16, "conv_pos_groups": 4, "final_dim": final_dim, "dropout": 0.1}}
    torch.save({"args": None, "cfg": cfg, "model": model, "optimizer_history": [{"num_updates": 5}],
                "extra_state": {"previous_best": 1.5}}, path)
    return path


def torchaudio_reference(path: Path, layer_norm_first: bool, layers: int = 3):  # type: ignore[no-untyped-def]
    from torchaudio.models import wav2vec2_model
    from torchaudio.models.wav2vec2.utils.import_fairseq import _convert_state_dict

    reference = wav2vec2_model(
        extractor_mode="layer_norm" if layer_norm_first else "group_norm",
        extractor_conv_layer_config=parse_conv_layers(CONV), extractor_conv_bias=False, encoder_embed_dim=48,
        encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16, encoder_pos_conv_groups=4,
        encoder_num_layers=layers, encoder_num_heads=4, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=96, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=layer_norm_first, encoder_layer_drop=0.0, aux_num_out=None)
    weights = torch.load(path, weights_only=False)["model"]
    reference.load_state_dict(_convert_state_dict(weights), strict=False)
    return reference.eval(), weights


@pytest.mark.parametrize("layer_norm_first", [False, True])
def test_every_layer_matches_torchaudios_import_of_the_same_checkpoint(tmp_path: Path, layer_norm_first: bool) -> None:
    path = fairseq_checkpoint(tmp_path / "hubert.pt", layer_norm_first=layer_norm_first)
    ours = load_fairseq_hubert(path)
    reference, _ = torchaudio_reference(path, layer_norm_first)
    audio = torch.randn(2, 8000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        expected, _ = reference.extract_features(audio)  # the output of every transformer layer
        for layer in (1, 2, 3):
            x = ours(audio, features_only=True, mask=False, output_layer=layer)["x"]
            assert x.shape == expected[layer - 1].shape
            torch.testing.assert_close(x, expected[layer - 1], rtol=1e-4, atol=1e-4)
        if layer_norm_first:  # with no layer asked for, a pre-LN encoder ends with its layer norm
            final = reference.encoder.transformer.layer_norm(expected[-1])
            torch.testing.assert_close(ours(audio)["x"], final, rtol=1e-4, atol=1e-4)


def test_contentvec_call_matches_amphions_use_and_masks_padding_like_fairseq(tmp_path: Path) -> None:
    """ContentvecExtractor's call: padding_mask = (wav == 0), extract_features(output_layer=N), final_proj."""
    path = fairseq_checkpoint(tmp_path / "contentvec.pt", layer_norm_first=False)
    ours = load_fairseq_hubert(path)
    reference, weights = torchaudio_reference(path, False)
    batch = torch.zeros(2, 8000)
    batch[0] = torch.randn(8000, generator=torch.Generator().manual_seed(4)) * 0.1
    batch[1, :4000] = torch.randn(4000, generator=torch.Generator().manual_seed(2)) * 0.1  # zero-padded, as collated
    with torch.no_grad():
        logits, mask = ours.extract_features(source=batch, padding_mask=torch.eq(batch, torch.zeros_like(batch)),
                                             output_layer=3)
        feats = ours.final_proj(logits)
        frames = feats.shape[1]
        # fairseq marks a frame as padding when all of its samples are zero: frames from 4000 / (8000 // frames) on
        valid = 4000 // (8000 // frames)
        assert mask[1].tolist() == [i >= valid for i in range(frames)] and not mask[0].any()
        # torchaudio masks by length: give it the length that leaves the same frames valid
        length = next(n for n in range(4000, 8000)
                      if reference.feature_extractor(batch[1:, :n], torch.tensor([n]))[1].item() == valid)
        expected, _ = reference.extract_features(batch, torch.tensor([8000, length]))
        projection = expected[-1] @ weights["final_proj.weight"].T + weights["final_proj.bias"]
    assert feats.shape == (2, frames, 16)
    torch.testing.assert_close(feats[0], projection[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(feats[1, :valid], projection[1, :valid], rtol=1e-4, atol=1e-4)


def test_a_file_that_is_not_a_hubert_checkpoint_gets_a_clear_message(tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"model": {"decoder.weight": torch.zeros(2)}, "cfg": {"model": {}}}, other)
    with pytest.raises(EngineError, match="does not fit a HuBERT network"):
        load_fairseq_hubert(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="could not be read as a fairseq checkpoint"):
        load_fairseq_hubert(garbage)


def test_conv_layer_specs_are_read_without_eval() -> None:
    assert parse_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == \
        [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    with pytest.raises(EngineError):
        parse_conv_layers("__import__('os').system('true')")
