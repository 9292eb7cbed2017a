"""Quality metrics: the style metric (style.py) and temporal flicker (flicker.py)."""
