"""``insider-detector demo``: placeholder replaced below."""
