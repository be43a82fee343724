"""GIS pipeline for the economic geography of border regions.

Stages, one module each (numbers as in :mod:`pipeline.paths`, the README and ``pipeline --help``)::

    1  ingest → 2a borders → 2b zones → 2c border-regions
                3a network → 3b crossings → 3c accessibility → 4 influence
                5a economy → 5b population
    6a publish → 6b maps → 6c validate

Each stage module holds pure functions and one ``run()`` that reads its inputs and writes its outputs
(atomically, :mod:`pipeline.io`); :mod:`pipeline.cli` only dispatches, and Make drives it. The typed
configuration (one model per ``layers/*.yaml`` file) is :mod:`pipeline.config`.
"""

__version__ = "0.1.0"
