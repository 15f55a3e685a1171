"""Global alignment of pairwise pointmaps into one frame (paper section 3.4)."""
