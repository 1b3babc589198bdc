"""Spectral and signal metrics of a reference/generated pair: MCD, multi-resolution STFT distance, PESQ, STOI,
ESTOI, SI-SDR and SI-SNR; the Fréchet distance of two sets of embeddings (FAD) is here too.

MCD is Amphion's (pymcd "dtw_sl"): WORLD spectral envelopes at 22.05 kHz every 5 ms, 13th-order mel-cepstra
(alpha 0.65), fastdtw on c1..c13, distance over c0..c13, scaled by the length ratio. Sample-level metrics
compare time-aligned samples (the clips are cut to the shorter one; Amphion's PESQ warps samples by DTW instead).

PESQ comes three ways: `pesq` is what Amphion reports (pypesq: the raw ITU-T P.862 score of the narrow-band model on
16 kHz audio, about -0.5 to 4.5), `pesq_wb` the P.862.2 wide-band MOS-LQO at 16 kHz (up to 4.64) and `pesq_nb` the
P.862.1 narrow-band MOS-LQO at 8 kHz (up to 4.55). The `pesq` package returns MOS-LQO only; the raw score is the
inverse of P.862.1's mapping applied to its narrow-band result at 16 kHz.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .base import Group, Item, Metric, MetricError, Options, Scorers, finite

MCD_RATE = 22_050
MCD_FRAME_MS = 5.0
MCD_ORDER = 13
MCD_ALPHA = 0.65
MCD_FFT = 512
MCD_CONSTANT = 10.0 / math.log(10.0) * math.sqrt(2.0)
MSTFT_RATE = 22_050
MSTFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (n_fft, hop, window): Amphion's
PESQ_RATES = {"wb": 16_000, "nb": 8_000}
RAW_PESQ_RATE = 16_000  # Amphion resamples to 16 kHz and calls pypesq, whose C code runs P.862 (narrow-band) there
P862_1 = (0.999, 4.0, 1.4945, 4.6607)  # MOS-LQO = a + b / (1 + exp(-c * raw + d)), ITU-T P.862.1
STOI_RATE = 16_000

MCD = Metric("mcd", "Mel-cepstral distortion", "dB", "pair", False,
             "Distance of mel-cepstra after DTW alignment, as Amphion (pymcd dtw_sl) computes it.", amphion="mcd")
MSTFT = Metric("mstft", "Multi-resolution STFT distance", "", "pair", False,
               "Spectral convergence plus log-magnitude L1 at three STFT resolutions (0 = identical).",
               amphion="mstft")
PESQ = Metric("pesq", "PESQ (raw P.862)", "", "pair", True,
              "The raw ITU-T P.862 score (about -0.5 to 4.5) of the narrow-band model on 16 kHz audio, not mapped to "
              "MOS-LQO: the number Amphion's pesq (pypesq) reports.", amphion="pesq", min_seconds=0.25)
PESQ_WB = Metric("pesq_wb", "PESQ wide-band", "", "pair", True,
                 "ITU-T P.862.2 MOS-LQO at 16 kHz (about 1 to 4.64).", min_seconds=0.25)
PESQ_NB = Metric("pesq_nb", "PESQ narrow-band", "", "pair", True,
                 "ITU-T P.862.1 MOS-LQO at 8 kHz (about 1 to 4.55).", min_seconds=0.25)
STOI = Metric("stoi", "STOI", "", "pair", True, "Short-time objective intelligibility (0 to 1).", amphion="stoi",
              min_seconds=0.5)
ESTOI = Metric("estoi", "ESTOI", "", "pair", True, "Extended STOI (0 to 1), better for modulated noise.",
               min_seconds=0.5)
SI_SDR = Metric("si_sdr", "SI-SDR", "dB", "pair", True, "Scale-invariant signal-to-distortion ratio.",
                amphion="si_sdr")
SI_SNR = Metric("si_snr", "SI-SNR", "dB", "pair", True, "Scale-invariant signal-to-noise ratio (zero-mean SI-SDR).",
                amphion="si_snr")
FAD = Metric("fad", "Fréchet audio distance", "", "pair", False,
             "Distance between the embedding distributions of the two sets (sets only; needs its embedding model).",
             amphion="fad")


def _import_pysptk():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import pysptk
    return pysptk


def mel_cepstrum(audio: np.ndarray) -> np.ndarray:
    """Frames x 14 mel-cepstra exactly as pymcd computes them (DIO + StoneMask, CheapTrick, SPTK mcep)."""
    from ..audio.analysis import import_pyworld

    pyworld, pysptk = import_pyworld(), _import_pysptk()
    x = audio.astype(np.float64)
    coarse, times = pyworld.dio(x, MCD_RATE, frame_period=MCD_FRAME_MS)
    f0 = pyworld.stonemask(x, coarse, times, MCD_RATE)
    envelope = pyworld.cheaptrick(x, f0, times, MCD_RATE, fft_size=MCD_FFT)
    return pysptk.sptk.mcep(envelope, order=MCD_ORDER, alpha=MCD_ALPHA, maxiter=0, etype=1, eps=1e-8, min_det=0.0,
                            itype=3)


def mcd(reference: np.ndarray, generated: np.ndarray) -> float:
    """Mel-cepstral distortion in dB of two clips at 22.05 kHz."""
    from fastdtw import fastdtw

    ref, gen = mel_cepstrum(reference), mel_cepstrum(generated)
    _, path = fastdtw(ref[:, 1:], gen[:, 1:], dist=2)
    pairs = np.asarray(path)
    diff = ref[pairs[:, 0]] - gen[pairs[:, 1]]
    length_ratio = max(len(ref), len(gen)) / min(len(ref), len(gen))
    return float(length_ratio * MCD_CONSTANT * np.sqrt((diff * diff).sum(-1)).sum() / len(pairs))


def mstft(reference: np.ndarray, generated: np.ndarray) -> float:
    """Amphion's multi-resolution STFT distance: mean spectral convergence + mean log-magnitude L1."""
    import torch

    ref, gen = torch.from_numpy(reference.astype(np.float32)), torch.from_numpy(generated.astype(np.float32))
    convergence = magnitude = 0.0
    for n_fft, hop, window in MSTFT_RESOLUTIONS:
        # a rectangular window: what torch.stft uses when given none, as in Amphion's call
        mag_ref, mag_gen = (torch.stft(x, n_fft, hop, window, window=torch.ones(window), return_complex=True).abs()
                            .clamp(min=math.sqrt(1e-7))
                            for x in (ref, gen))
        convergence += float(torch.linalg.norm(mag_ref - mag_gen) / torch.linalg.norm(mag_ref))
        magnitude += float(torch.mean(torch.abs(torch.log(mag_ref) - torch.log(mag_gen))))
    n = len(MSTFT_RESOLUTIONS)
    return convergence / n + magnitude / n


def si_sdr(reference: np.ndarray, generated: np.ndarray, zero_mean: bool = False) -> float:
    """Scale-invariant SDR in dB (torchmetrics' definition; zero_mean=True gives SI-SNR)."""
    target, estimate = reference.astype(np.float64), generated.astype(np.float64)
    if zero_mean:
        target, estimate = target - target.mean(), estimate - estimate.mean()
    eps = np.finfo(np.float64).eps
    alpha = (np.dot(estimate, target) + eps) / (np.dot(target, target) + eps)
    scaled = alpha * target
    noise = scaled - estimate
    return float(10 * np.log10((np.sum(scaled**2) + eps) / (np.sum(noise**2) + eps)))


def pesq_score(reference: np.ndarray, generated: np.ndarray, mode: str, rate: int | None = None) -> float:
    """MOS-LQO of the `pesq` package: P.862.2 ("wb", 16 kHz) or P.862.1 ("nb", at 8 kHz unless `rate` says 16 kHz)."""
    import pesq

    try:
        return float(pesq.pesq(rate or PESQ_RATES[mode], reference, generated, mode))
    except pesq.NoUtterancesError:
        raise MetricError("PESQ found no speech in the clips.") from None
    except pesq.BufferTooShortError:
        raise MetricError("the clips are too short for PESQ.") from None
    except pesq.PesqError as exc:
        raise MetricError(f"PESQ could not score the clips ({exc}).") from None


def raw_p862(mos_lqo: float) -> float:
    """The raw P.862 score that P.862.1 maps to `mos_lqo` (its inverse)."""
    offset, scale, slope, bias = P862_1
    return (bias - math.log(scale / (mos_lqo - offset) - 1.0)) / slope


def stoi_score(reference: np.ndarray, generated: np.ndarray, rate: int, extended: bool) -> float:
    from pystoi import stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = stoi(reference, generated, rate, extended=extended)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise MetricError("too little speech for STOI after its silence removal (it needs about 0.4 s of speech).")
    return float(value)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (rows): FAD when they are audio embeddings."""
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        raise MetricError("the Fréchet distance needs at least two clips in each set.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(np.real(root))
    return float(max(distance, 0.0))


def compute_mcd(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    reference, generated = item.pair()
    return {"mcd": finite(mcd(reference.at(MCD_RATE), generated.at(MCD_RATE)), "MCD")}


def compute_mstft(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    ref, gen = item.pair_at(MSTFT_RATE)
    return {"mstft": finite(mstft(ref, gen), "The STFT distance")}


def compute_pesq(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"pesq": raw_p862(pesq_score(*item.pair_at(RAW_PESQ_RATE), "nb", RAW_PESQ_RATE))}


def compute_pesq_wb(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"pesq_wb": pesq_score(*item.pair_at(PESQ_RATES["wb"]), "wb")}


def compute_pesq_nb(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"pesq_nb": pesq_score(*item.pair_at(PESQ_RATES["nb"]), "nb")}


def compute_stoi(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"stoi": stoi_score(*item.pair_at(STOI_RATE), STOI_RATE, extended=False)}


def compute_estoi(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"estoi": stoi_score(*item.pair_at(STOI_RATE), STOI_RATE, extended=True)}


def _at_reference_rate(item: Item) -> tuple[np.ndarray, np.ndarray]:
    """The pair at the reference's own rate: only the generated clip is resampled."""
    return item.pair_at(item.pair()[0].sample_rate)


def compute_si_sdr(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"si_sdr": si_sdr(*_at_reference_rate(item))}


def compute_si_snr(item: Item, options: Options, scorers: Scorers) -> dict[str, float]:
    return {"si_snr": si_sdr(*_at_reference_rate(item), zero_mean=True)}


GROUPS = (
    Group("mcd", (MCD,), compute_mcd),
    Group("mstft", (MSTFT,), compute_mstft),
    Group("pesq", (PESQ,), compute_pesq),
    Group("pesq_wb", (PESQ_WB,), compute_pesq_wb),
    Group("pesq_nb", (PESQ_NB,), compute_pesq_nb),
    Group("stoi", (STOI,), compute_stoi),
    Group("estoi", (ESTOI,), compute_estoi),
    Group("si_sdr", (SI_SDR,), compute_si_sdr),
    Group("si_snr", (SI_SNR,), compute_si_snr),
)
SET_METRICS = (FAD,)
