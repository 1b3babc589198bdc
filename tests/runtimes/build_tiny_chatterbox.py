"""Build a random-weight Chatterbox checkpoint laid out as ResembleAI/chatterbox is (English files), with the
package's own classes. Runs inside the chatterbox-tts runtime:

    <runtime python> -m tests.runtimes.build_tiny_chatterbox OUT_DIR REFERENCE_WAV

T3 is a one-layer Llama (the adapter reads its size from the tensors); the voice encoder and S3Gen have the
released architecture (their sizes are fixed in code). tokenizer.json is a character-level vocabulary
using Chatterbox's special tokens; conds.pt is the built-in voice, conditioned on REFERENCE_WAV.
"""
from __future__ import annotations

import json
import string
import sys
from pathlib import Path

# T3's width stays 1024 (its Perceiver resampler is fixed at that size); one layer with a narrow MLP.
TINY_LLAMA = {"hidden_size": 1024, "intermediate_size": 256, "num_hidden_layers": 1, "num_attention_heads": 16,
              "num_key_value_heads": 16}


def tokenizer_json(path: Path) -> None:
    from tokenizers import Regex, Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Split

    vocab = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2, "[PAD]": 3, "[SEP]": 4, "[CLS]": 5, "[MASK]": 6}
    for char in string.ascii_letters + string.digits + string.punctuation:
        vocab.setdefault(char, len(vocab))
    while len(vocab) < 255:  # Chatterbox's start token is 255: no holes below it
        vocab[f"[unused{len(vocab)}]"] = len(vocab)
    vocab["[START]"] = 255
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
    from chatterbox.models.t3.llama_configs import LLAMA_CONFIGS
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.tokenizers import EnTokenizer
    from chatterbox.models.voice_encoder import VoiceEncoder
    from chatterbox.tts import ChatterboxTTS

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    LLAMA_CONFIGS["tiny"] = {**LLAMA_CONFIGS["Llama_520M"], **TINY_LLAMA}
    hp = T3Config.english_only()
    hp.llama_config_name = "tiny"
    parts = {"ve.safetensors": VoiceEncoder(), "t3_cfg.safetensors": T3(hp), "s3gen.safetensors": S3Gen()}
    for name, module in parts.items():
        save_file({k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, str(out / name))
    tokenizer_json(out / "tokenizer.json")
    model = ChatterboxTTS(parts["t3_cfg.safetensors"].eval(), parts["s3gen.safetensors"].eval(),
                          parts["ve.safetensors"].eval(), EnTokenizer(str(out / "tokenizer.json")), "cpu")
    model.prepare_conditionals(str(reference), exaggeration=0.5)
    model.conds.save(out / "conds.pt")
    print(json.dumps({"files": sorted(p.name for p in out.iterdir())}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
