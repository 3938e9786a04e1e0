"""Stage 6: the whole run (`runner.py`), what it prints (`console.py`), the run folder it
writes (`folder.py`, `manifest.py`) and the items x threads sweep (`sweep.py`)."""
