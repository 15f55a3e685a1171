"""Files: atomic writes, checkpoint discovery and download, output paths."""
