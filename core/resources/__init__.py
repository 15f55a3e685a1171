"""Resources of a run: what the machine has (memory, CPU features), what a run needs, and the guard."""
