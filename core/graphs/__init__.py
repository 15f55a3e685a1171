"""Which pairs the network sees: photo scene graphs, temporal graphs of footage, and the global image
descriptor that retrieval and loop closure compare (numpy only, no torch)."""
