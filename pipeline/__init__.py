"""GIS pipeline for the economic geography of border regions.

Stages (one module each): ``ingest`` → ``borders`` → ``zones`` → ``border_regions`` → ``publish``.
Each stage is a pure function from GeoDataFrames to GeoDataFrames; reading and writing happen
in :mod:`pipeline.io` and the command line (:mod:`pipeline.cli`), which Make drives.
"""

__version__ = "0.1.0"
