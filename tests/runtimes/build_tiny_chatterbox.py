"""Build random-weight Chatterbox checkpoints laid out as ResembleAI/chatterbox is, with the package's own classes:
the English files (ve.safetensors, t3_cfg.safetensors, s3gen.safetensors, tokenizer.json) and the multilingual
ones beside them (ve.pt, t3_mtl23ls_v2.safetensors, s3gen.pt, grapheme_mtl_merged_expanded_v1.json,
Cangjie5_TC.json), with the conds.pt both share. Runs inside the chatterbox-tts runtime:

    <runtime python> -m tests.runtimes.build_tiny_chatterbox OUT_DIR REFERENCE_WAV

T3 is a one-layer Llama (fourteen layers for the multilingual one, whose inference watches attention heads of
layers 9, 12 and 13; the adapter reads the size from the tensors); the voice encoder and S3Gen have the
released architecture (their sizes are fixed in code). The tokenizers are character-level vocabularies using
Chatterbox's special tokens (the multilingual one with its [xx] language tokens, [cj_x] Cangjie code tokens and
NFKD accents); conds.pt is
the built-in voice, conditioned on REFERENCE_WAV.
"""
from __future__ import annotations

import json
import string
import sys
from pathlib import Path

# T3's width stays 1024 (its Perceiver resampler is fixed at that size); one layer with a narrow MLP.
TINY_LLAMA = {"hidden_size": 1024, "intermediate_size": 256, "num_hidden_layers": 1, "num_attention_heads": 16,
              "num_key_value_heads": 16}


# the multilingual model lowercases and NFKD-normalises text: letters, then their accents as combining marks
MULTILINGUAL_CHARS = string.ascii_lowercase + "ßæøœ" + "".join(map(chr, range(0x300, 0x370)))
CANGJIE = ["你\toni", "好\tvnd", "世\tpt", "界\twol"]  # Cangjie5_TC.json's "glyph<TAB>code" entries


def tokenizer_json(path: Path, chars: str = string.ascii_letters, specials: tuple[str, ...] = ()) -> None:
    from tokenizers import Regex, Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Split

    vocab = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2, "[PAD]": 3, "[SEP]": 4, "[CLS]": 5, "[MASK]": 6}
    for char in chars + string.digits + string.punctuation:
        vocab.setdefault(char, len(vocab))
    while len(vocab) < 255:  # Chatterbox's start token is 255: no holes below it
        vocab[f"[unused{len(vocab)}]"] = len(vocab)
    vocab["[START]"] = 255
    for token in specials:
        vocab[token] = len(vocab)
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    specials = [t for t in vocab if t.startswith("[")]
    tokenizer.add_special_tokens(specials)
    tokenizer.pre_tokenizer = Split(Regex("."), behavior="isolated")
    tokenizer.save(str(path))


def main(out: Path, reference: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.inference.alignment_stream_analyzer import LLAMA_ALIGNED_HEADS
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.tokenizers import EnTokenizer
    from chatterbox.models.voice_encoder import VoiceEncoder
    from chatterbox.mtl_tts import SUPPORTED_LANGUAGES
    from chatterbox.tts import ChatterboxTTS

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    LLAMA_CONFIGS["tiny"] = {**LLAMA_CONFIGS["Llama_520M"], **TINY_LLAMA}
    hp = T3Config.english_only()
    hp.llama_config_name = "tiny"
    # the multilingual inference watches attention heads of given layers (AlignmentStreamAnalyzer): that many layers
    deepest = max(layer for layer, _ in LLAMA_ALIGNED_HEADS) + 1
    LLAMA_CONFIGS["tiny_multilingual"] = {**LLAMA_CONFIGS["tiny"], "num_hidden_layers": deepest}
    multilingual_hp = T3Config.multilingual()
    multilingual_hp.llama_config_name = "tiny_multilingual"
    parts = {"ve.safetensors": VoiceEncoder(), "t3_cfg.safetensors": T3(hp), "s3gen.safetensors": S3Gen()}
    for name, module in {**parts, "t3_mtl23ls_v2.safetensors": T3(multilingual_hp)}.items():
        save_file({k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, str(out / name))
    # the multilingual model's voice encoder and S3Gen are the same architectures, saved with torch.save
    torch.save(parts["ve.safetensors"].state_dict(), out / "ve.pt")
    torch.save(parts["s3gen.safetensors"].state_dict(), out / "s3gen.pt")
    tokenizer_json(out / "tokenizer.json")
    tokenizer_json(out / "grapheme_mtl_merged_expanded_v1.json", MULTILINGUAL_CHARS,
                   tuple(f"[{language}]" for language in SUPPORTED_LANGUAGES)
                   + tuple(f"[cj_{c}]" for c in string.ascii_lowercase + string.digits + "."))  # Cangjie codes
    (out / "Cangjie5_TC.json").write_text(json.dumps(CANGJIE, ensure_ascii=False))
    model = ChatterboxTTS(parts["t3_cfg.safetensors"].eval(), parts["s3gen.safetensors"].eval(),
                          parts["ve.safetensors"].eval(), EnTokenizer(str(out / "tokenizer.json")), "cpu")
    model.prepare_conditionals(str(reference), exaggeration=0.5)
    model.conds.save(out / "conds.pt")
    print(json.dumps({"files": sorted(p.name for p in out.iterdir())}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
