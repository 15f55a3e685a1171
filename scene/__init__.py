"""Building and reading Blender datablocks: reconstructions, cameras, points, surfaces, footage cameras."""
