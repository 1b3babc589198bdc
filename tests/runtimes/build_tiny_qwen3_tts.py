"""Build random-weight Qwen3-TTS checkpoints laid out as the Qwen/Qwen3-TTS-12Hz-* repositories are, with the
qwen-tts package's own classes and `save_pretrained`. Runs inside the qwen-tts runtime:

    <runtime python> -m tests.runtimes.build_tiny_qwen3_tts OUT_DIR [base|custom_voice|voice_design ...]

Each OUT_DIR/<type>/ holds config.json, generation_config.json, model.safetensors, the text tokenizer files and
speech_tokenizer/ (the 12 Hz codec: config.json, model.safetensors, preprocessor_config.json), as on the hub.
The text tokenizer is a byte-level BPE with Qwen's chat special tokens and just the merges the prompt template
needs ("assistant" and "user" as single tokens); the talker, code predictor, speaker encoder and codec are a
few layers wide, with the released token layout (16 codebooks of 2048 codes at 12.5 Hz, 24 kHz output).
"""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

LANGUAGES = {"chinese": 2055, "english": 2050, "german": 2053, "italian": 2070, "portuguese": 2071,
             "spanish": 2054, "japanese": 2058, "korean": 2064, "french": 2061, "russian": 2069}
SPEAKERS = {"vivian": 3065, "ryan": 3061, "aiden": 2861, "uncle_fu": 3010}
CHAT_TOKENS = {"<|endoftext|>": 300, "<|im_start|>": 301, "<|im_end|>": 302}
TTS_TOKENS = {"tts_pad_token_id": 303, "tts_bos_token_id": 304, "tts_eos_token_id": 305}
TEXT_VOCAB = 320
GENERATION = {"do_sample": True, "top_k": 50, "top_p": 1.0, "temperature": 0.9, "repetition_penalty": 1.05,
              "subtalker_dosample": True, "subtalker_top_k": 50, "subtalker_top_p": 1.0,
              "subtalker_temperature": 0.9, "max_new_tokens": 8192}


def text_tokenizer(out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    alphabet = list(bytes_to_unicode().values())
    vocab = {char: i for i, char in enumerate(alphabet)}
    merges = []
    for word in ("assistant", "user"):
        piece = word[0]
        for char in word[1:]:
            merges.append((piece, char))
            piece += char
            vocab.setdefault(piece, len(vocab))
    assert len(vocab) < min(CHAT_TOKENS.values())
    bpe = Tokenizer(models.BPE(vocab, merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(tokenizer_object=bpe, unk_token=None, bos_token=None, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")
    for token, index in sorted(CHAT_TOKENS.items(), key=lambda item: item[1]):
        while len(tokenizer) < index:
            tokenizer.add_tokens([f"<|reserved_{len(tokenizer)}|>"], special_tokens=True)
        tokenizer.add_tokens([token], special_tokens=True)
    assert tokenizer.convert_tokens_to_ids("<|im_start|>") == CHAT_TOKENS["<|im_start|>"]
    ids = tokenizer("<|im_start|>assistant\nHi<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    assert len(ids) == 3 + 2 + 5, ids  # the model slices the prompt template by these positions
    from qwen_tts.core.models import Qwen3TTSProcessor

    Qwen3TTSProcessor(tokenizer=tokenizer).save_pretrained(str(out))


def speech_tokenizer(out: Path) -> None:
    import torch
    from transformers import EncodecFeatureExtractor

    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model

    config = Qwen3TTSTokenizerV2Config(
        encoder_config={"hidden_size": 32, "num_filters": 4, "num_residual_layers": 1, "upsampling_ratios": [8, 6, 5, 4],
                        "kernel_size": 7, "last_kernel_size": 3, "residual_kernel_size": 3, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 64,
                        "codebook_size": 2048, "codebook_dim": 16, "num_quantizers": 32,
                        "num_semantic_quantizers": 1, "sliding_window": 50, "max_position_embeddings": 256,
                        "upsample_groups": 32, "vector_quantization_hidden_dimension": 16,
                        "frame_rate": 12.5, "sampling_rate": 24000},
        decoder_config={"codebook_size": 2048, "hidden_size": 32, "latent_dim": 32, "num_attention_heads": 2,
                        "num_key_value_heads": 2, "intermediate_size": 64, "num_hidden_layers": 1,
                        "num_quantizers": 16, "decoder_dim": 32, "max_position_embeddings": 256,
                        "codebook_dim": 32},
        encoder_valid_num_quantizers=16)
    torch.manual_seed(1)
    model = Qwen3TTSTokenizerV2Model(config)
    model.save_pretrained(str(out / "speech_tokenizer"))
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0).save_pretrained(
        str(out / "speech_tokenizer"))


def tts_model(out: Path, model_type: str) -> None:
    import torch

    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSSpeakerEncoderConfig

    hidden = 64
    config = Qwen3TTSConfig(
        tokenizer_type="qwen3_tts_tokenizer_12hz", tts_model_size="0b6", tts_model_type=model_type,
        im_start_token_id=CHAT_TOKENS["<|im_start|>"], im_end_token_id=CHAT_TOKENS["<|im_end|>"], **TTS_TOKENS,
        talker_config={
            "vocab_size": 3072, "hidden_size": hidden, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 4096,
            "rope_scaling": {"rope_type": "default", "mrope_section": [4, 2, 2], "interleaved": True},
            "num_code_groups": 16, "text_hidden_size": hidden, "text_vocab_size": TEXT_VOCAB,
            "codec_eos_token_id": 2150, "codec_think_id": 2154, "codec_nothink_id": 2155,
            "codec_think_bos_id": 2156, "codec_think_eos_id": 2157, "codec_pad_id": 2148, "codec_bos_id": 2149,
            "codec_language_id": LANGUAGES,
            "spk_id": SPEAKERS if model_type == "custom_voice" else {},
            "spk_is_dialect": {name: False for name in SPEAKERS} if model_type == "custom_voice" else {},
            "code_predictor_config": {"vocab_size": 2048, "hidden_size": hidden, "intermediate_size": 128,
                                      "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                                      "head_dim": 16, "num_code_groups": 16, "max_position_embeddings": 64}},
        speaker_encoder_config={"mel_dim": 128, "enc_dim": hidden, "enc_channels": [32, 32, 32, 32, 96],
                                "enc_attention_channels": 16, "enc_se_channels": 16, "enc_res2net_scale": 4,
                                "sample_rate": 24000})
    torch.manual_seed(0)
    model = Qwen3TTSForConditionalGeneration(config)
    model.save_pretrained(str(out))
    # The hub's config.json lists only the speaker encoder's own fields (its config class takes no others).
    saved = json.loads((out / "config.json").read_text())
    accepted = inspect.signature(Qwen3TTSSpeakerEncoderConfig.__init__).parameters
    saved["speaker_encoder_config"] = {k: v for k, v in saved["speaker_encoder_config"].items() if k in accepted}
    (out / "config.json").write_text(json.dumps(saved, indent=2))
    (out / "generation_config.json").write_text(json.dumps(GENERATION, indent=2))


def main(out: Path, model_types: list[str]) -> None:
    for model_type in model_types:
        folder = out / model_type
        folder.mkdir(parents=True, exist_ok=True)
        tts_model(folder, model_type)
        text_tokenizer(folder)
        speech_tokenizer(folder)
        print(json.dumps({model_type: sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] or ["base", "custom_voice", "voice_design"])
