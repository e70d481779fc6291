"""Example embedspec plugin: a seeded Gaussian random-projection compressor."""
