"""Files: checkpoint discovery/download and exports."""
