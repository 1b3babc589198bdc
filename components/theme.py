"""Style constants in one place: colours for states, sizes for touch, plot styling that reads in light and dark."""
from __future__ import annotations

BRAND = "#5b4bdb"

READINESS_COLORS = {
    "ready": "positive",
    "needs_download": "info",
    "missing_dependency": "warning",
    "needs_checkpoint": "warning",
    "unavailable": "grey",
}

JOB_STATE_COLORS = {
    "queued": "grey",
    "running": "primary",
    "succeeded": "positive",
    "failed": "negative",
    "cancelled": "orange",
    "interrupted": "deep-orange",
}

PAGE = "w-full max-w-5xl mx-auto p-4 gap-4"  # a page's content column
CARD = "w-full"
SECTION_TITLE = "text-h6"
HINT = "text-sm text-grey-7 dark:text-grey-5"

# Plot styling that works on both themes without a re-render: transparent backgrounds, mid-grey ink.
PLOT_INK = "rgba(128,128,128,0.95)"
PLOT_GRID = "rgba(128,128,128,0.25)"
WAVE_COLOR = BRAND
F0_COLOR = "#ff7043"
CLIP_COLORS = (BRAND, F0_COLOR, "#26a69a", "#ffb300", "#ec407a", "#42a5f5", "#8d6e63", "#9ccc65")  # one per compared clip
SOURCE_COLOR = "rgba(128,128,128,0.9)"  # the source's contour beside a conversion's result
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
# Magma (plotly.js has no named magma): dark for silence, light for the loudest cells.
SPECTROGRAM_COLORS = [[0.0, "#000004"], [0.13, "#1c1044"], [0.25, "#4f127b"], [0.38, "#812581"], [0.5, "#b5367a"],
                      [0.63, "#e55064"], [0.75, "#fb8761"], [0.88, "#fec287"], [1.0, "#fcfdbf"]]
