"""Pure geometry (numpy, optionally torch): frames, cameras, focal estimation, conventions. A leaf package."""
