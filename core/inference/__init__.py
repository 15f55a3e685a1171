"""Running the network on photos: image loading, scene graphs, encode-once pair prediction."""
