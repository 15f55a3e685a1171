"""Reading footage (no torch, no bpy): videos through PyAV, numbered image sequences, their info."""
