"""Peer models that are not Amphion: Qwen3-TTS and Chatterbox, each in its isolated runtime (engines/isolated)."""
