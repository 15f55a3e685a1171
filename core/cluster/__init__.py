"""Running the command line on a Ray cluster from a program without Ray (Blender): the Jobs HTTP API."""
