"""Amphion Studio's core: settings, storage, jobs, model manager, audio, services, REST API and CLI.

Nothing in this package imports NiceGUI except `studio.app`, the web composition root.
"""
__version__ = "0.1.0"
