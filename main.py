"""Start the studio: `python main.py` (the NiceGUI test fixture runs this file too). Same as `amphion-studio serve`."""
from studio.app import run

if __name__ in {"__main__", "__mp_main__"}:
    run()
