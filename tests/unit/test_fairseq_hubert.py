"""fairseq HuBERT checkpoints (ContentVec, mHuBERT) on transformers, checked against torchaudio's independent
importer of the same fairseq weights: same layer outputs, same padding semantics, the ContentVec projection."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engines.amphion.hubert import load_fairseq_hubert, parse_conv_layers
from engines.contract import EngineError
from tests.svc_fixtures import fairseq_hubert_checkpoint

CONV = "[(32,10,5)] + [(32,3,2)] * 2 + [(32,2,2)]"


def fairseq_checkpoint(path: Path, *, layer_norm_first: bool, layers: int = 3) -> Path:
    return fairseq_hubert_checkpoint(path, conv=CONV, layer_norm_first=layer_norm_first, layers=layers, embed=48,
                                     final_dim=16)


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
        for layer in (1, 2, 3, 12):  # 12, as Amphion asks of ContentVec: beyond the last layer means the last
            x = ours(audio, features_only=True, mask=False, output_layer=layer)["x"]
            torch.testing.assert_close(x, expected[min(layer, 3) - 1], rtol=1e-4, atol=1e-4)
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
