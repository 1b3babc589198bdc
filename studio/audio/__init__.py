"""Audio: reading, writing, export formats, resampling, and analysis for plots."""
