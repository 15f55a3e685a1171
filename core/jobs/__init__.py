"""Whole jobs of the core: photos (reconstruct), footage, the refinement stage, and the run plan."""
