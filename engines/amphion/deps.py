"""What Amphion's inference code imports (with pip names) and the extra pretrained models it fetches.

Adapters compose these into `requirements` and `weights`. Module lists follow the imports of Amphion at
d3de90f (reference/amphion-catalog.md §1.2, §8); sizes of extra models are the published files', rounded.
"""
from __future__ import annotations

from ..contract import Weights
from ..requirements import Binary, PythonModule

ESPEAK_NG = Binary("espeak-ng", "espeak-ng")  # phonemizer's backend (MaskGCT, Metis, Vevo G2P; VITS, VALL-E)

JSON5 = PythonModule("json5", "json5")  # utils/util.py load_config
RUAMEL_YAML = PythonModule("ruamel.yaml", "ruamel.yaml")  # utils/util.py imports it at module level
EINOPS = PythonModule("einops", "einops")
ACCELERATE = PythonModule("accelerate", "accelerate")
SAFETENSORS = PythonModule("safetensors", "safetensors")
LIBROSA = PythonModule("librosa", "librosa")
PHONEMIZER = PythonModule("phonemizer", "phonemizer")
G2P_EN = PythonModule("g2p_en", "g2p_en")
JIEBA = PythonModule("jieba", "jieba")
CN2AN = PythonModule("cn2an", "cn2an")
PYPINYIN = PythonModule("pypinyin", "pypinyin")
LANGSEGMENT = PythonModule("LangSegment", "LangSegment")  # 0.2.0 needs traps.py's langsegment-module fix
PYOPENJTALK = PythonModule("pyopenjtalk", "pyopenjtalk")  # builds from source (about 1.5 min)
PYKAKASI = PythonModule("pykakasi", "pykakasi")
UNIDECODE = PythonModule("unidecode", "unidecode")
ONNXRUNTIME = PythonModule("onnxruntime", "onnxruntime")  # Chinese polyphone G2P
LANGID = PythonModule("langid", "langid")  # Metis language detection
PEFT = PythonModule("peft", "peft")  # Metis LoRA tasks
IPYTHON = PythonModule("IPython", "ipython")  # imported by vevo_utils.py and vevosing_utils.py
YAML = PythonModule("yaml", "pyyaml")
WHISPER = PythonModule("whisper", "openai-whisper")  # bins/tts and Vevo1.5 features
SIX = PythonModule("six", "six")  # the wenet extractor (bins/tts path)
ENCODEC = PythonModule("encodec", "encodec")  # NaturalSpeech2, VALL-E v1
TORCHCREPE = PythonModule("torchcrepe", "torchcrepe")  # Vevo1.5
PARSELMOUTH = PythonModule("parselmouth", "praat-parselmouth")
LHOTSE = PythonModule("lhotse", "lhotse")  # modules/general/input_strategies.py (the bins/tts path)
TORCHMETRICS = PythonModule("torchmetrics", "torchmetrics")  # models/tts/valle/valle.py
NUMBA = PythonModule("numba", "numba")  # models/tts/jets/alignments.py
FFMPEG = Binary("ffmpeg", "ffmpeg")  # whisper.load_audio (Amphion's FFmpegDataset for Whisper features)
DIFFUSERS = PythonModule("diffusers", "diffusers>=0.30,<0.33")  # newer ones need huggingface_hub >= 1 (catalog §8)
PYWORLD = PythonModule("pyworld", "pyworld")  # utils/f0.py
SKLEARN = PythonModule("sklearn", "scikit-learn")  # utils/data_utils.py, processors/acoustic_extractor.py
JOBLIB = PythonModule("joblib", "joblib")  # processors/content_extractor.py
INFLECT = PythonModule("inflect", "inflect")  # text/numbers.py
TGT = PythonModule("tgt", "tgt")  # utils/duration.py, imported by every acoustic feature extraction
ASTEROID_FILTERBANKS = PythonModule("asteroid_filterbanks", "asteroid-filterbanks")  # RawNet3's sinc filters

BASE = (JSON5, RUAMEL_YAML, EINOPS, SAFETENSORS, LIBROSA, YAML)
MASKGCT_G2P = (PHONEMIZER, G2P_EN, JIEBA, CN2AN, PYPINYIN, LANGSEGMENT, PYOPENJTALK, PYKAKASI, UNIDECODE,
               ONNXRUNTIME)  # models/tts/maskgct/g2p: MaskGCT, Metis, Vevo-TTS
MASKGCT = BASE + (ACCELERATE,) + MASKGCT_G2P
METIS = MASKGCT + (LANGID, PEFT)
VEVO_CONVERSION = BASE + (ACCELERATE, IPYTHON)  # Vevo-Timbre, -Style, -Voice: no text, no G2P
VEVO = VEVO_CONVERSION + MASKGCT_G2P
VEVO_1_5_CONVERSION = VEVO_CONVERSION + (WHISPER, TORCHCREPE, PARSELMOUTH)  # plus a matching torchvision
VEVO_1_5 = VEVO_1_5_CONVERSION + MASKGCT_G2P
# bins/tts/inference.py imports all five recipes (VITS, FastSpeech2, NS2, VALL-E, Jets) and so all of this
CLASSIC_TTS = BASE + (ACCELERATE, PHONEMIZER, G2P_EN, UNIDECODE, WHISPER, SIX, ENCODEC, LHOTSE, TORCHMETRICS, NUMBA)
# processors/content_extractor.py and the SVC inference path (bins/svc/inference.py), traced import by import
CONTENT_EXTRACTORS = BASE + (ACCELERATE, JOBLIB, WHISPER, SIX, LHOTSE, SKLEARN, PYWORLD, PARSELMOUTH, TORCHCREPE,
                             INFLECT, UNIDECODE, TGT)
SVC_RECIPES = CONTENT_EXTRACTORS + (DIFFUSERS, ENCODEC)
NORO = CONTENT_EXTRACTORS

# Extra pretrained models, fetched by the weight manager where the libraries look for them.
W2V_BERT_2 = Weights("hub", "facebook/w2v-bert-2.0", ("config.json", "preprocessor_config.json", "model.safetensors"),
                     size_bytes=2_320_000_000, license="MIT", label="w2v-BERT 2.0",
                     note="extra pretrained model: semantic speech features")
HUBERT_LARGE = Weights("url", url="https://download.pytorch.org/torchaudio/models/hubert_fairseq_large_ll60k.pth",
                       path="hub/checkpoints/hubert_fairseq_large_ll60k.pth", size_bytes=1_260_000_000, license="MIT",
                       label="HuBERT Large (torchaudio)", note="extra pretrained model: content features (Vevo)")
ENCODEC_24KHZ = Weights("url", url="https://dl.fbaipublicfiles.com/encodec/v0/encodec_24khz-d7cc33bc.th",
                        path="hub/checkpoints/encodec_24khz-d7cc33bc.th", size_bytes=89_000_000, license="MIT",
                        label="EnCodec 24 kHz", note="extra pretrained model: codec (NaturalSpeech2, VALL-E v1)")
# g2p_en's NLTK data (NLTK's own files at a fixed nltk_data commit): the CMU dictionary it loads when built and the
# part-of-speech tagger it calls on every word (nltk >= 3.9 reads the _eng JSON one; g2p_en checks the older one).
NLTK_PACKAGES = "https://raw.githubusercontent.com/nltk/nltk_data/550b6625bcef1f2abff2ff770a5a0d272c9c6b2a/packages/"
NLTK_CMUDICT = Weights("url", url=NLTK_PACKAGES + "corpora/cmudict.zip", path="corpora/cmudict.zip", cache="nltk",
                       size_bytes=896_069, license="BSD-2-Clause (CMU)", label="CMU Pronouncing Dictionary (NLTK)",
                       note="extra data: English pronunciations for g2p_en")
NLTK_TAGGER_ENG = Weights("url", url=NLTK_PACKAGES + "taggers/averaged_perceptron_tagger_eng.zip",
                          path="taggers/averaged_perceptron_tagger_eng.zip", cache="nltk", size_bytes=1_539_115,
                          license="unspecified (nltk_data)", label="NLTK English tagger", note="extra data: parts of speech for g2p_en")
NLTK_TAGGER = Weights("url", url=NLTK_PACKAGES + "taggers/averaged_perceptron_tagger.zip",
                      path="taggers/averaged_perceptron_tagger.zip", cache="nltk", size_bytes=2_526_731,
                      license="unspecified (nltk_data)", label="NLTK tagger (g2p_en's check)",
                      note="extra data: g2p_en looks for it when imported")
G2P_EN_DATA = (NLTK_CMUDICT, NLTK_TAGGER_ENG, NLTK_TAGGER)

WHISPER_MEDIUM = Weights(
    "url", url="https://openaipublic.azureedge.net/main/whisper/models/"
               "345ae4da62f9b3d59415adc60127b97c714f32e89e936602e85993674d08dcb1/medium.pt",
    path="medium.pt", cache="whisper", size_bytes=1_530_000_000, license="MIT", label="Whisper medium (openai-whisper)",
    note="extra pretrained model: content features (Vevo1.5, singing conversion)")
# The file Amphion's SVC recipes name (pretrained/contentvec/checkpoint_best_legacy_500.pt): ContentVec's "legacy"
# 500-class release (MIT), a fairseq HuBERT checkpoint, from the hub mirror Amphion-based demos download it from.
# The studio runs it on transformers (engines/amphion/hubert.py); the size is approximate.
CONTENTVEC_LEGACY_500 = Weights("hub", "LukeJacob2023/ContentVec", ("checkpoint_best_legacy_500.pt",),
                                size_bytes=200_000_000, license="MIT", label="ContentVec (legacy, 500 classes)",
                                note="extra pretrained model: content features (singing conversion)")
