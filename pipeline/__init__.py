"""GIS pipeline for the economic geography of border regions.

Stages, one module each (numbers as in :mod:`pipeline.paths`, the README and ``pipeline --help``)::

    1  ingest → 2a borders → 2b zones → 2c border-regions
                3a network → 3b crossings → 3c link → 3d accessibility, 4 influence
                5a economy → 5b population → 5c people-influence
    6a publish → 6b maps → 6c validate

Each stage module holds pure functions and one ``run()`` that reads its inputs and writes its outputs
(atomically, :mod:`pipeline.io`); :mod:`pipeline.cli` only dispatches, and Make drives it. The typed
configuration (one model per ``layers/*.yaml`` file) is :mod:`pipeline.config`.
"""

__version__ = "0.1.0"


def _no_huge_pages() -> None:
    """Large numpy arrays without ``madvise(MADV_HUGEPAGE)``.

    numpy asks the kernel for transparent huge pages on every array above 4 MB. Where THP is in
    ``madvise`` mode with ``defrag=madvise`` (Debian and Ubuntu's default), the first touch of such an
    array makes the kernel compact memory synchronously: measured here, a 1 km accessibility run spent
    1.0 s of 2.9 s filling its first arrays (0.07 s in the same process later). Without the advice, the
    first run takes 1.6–1.8 s. Set ``NUMPY_MADVISE_HUGEPAGE=1`` to keep numpy's default.
    """
    import os

    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") == "1":
        return
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")   # child processes
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:   # another numpy layout: keep its default
        return
    _set_madvise_hugepage(False)


def _passive_threads_in_parallel_make() -> None:
    """Idle OpenMP threads sleep instead of spinning when Make runs several stages at once.

    The compiled kernels (numba, OpenMP layer) run on every core; between parallel loops GNU OpenMP's
    threads spin-wait, which is free on an idle machine but takes cores from the other stage of a
    parallel make. Measured on 2 cores: the influence stage beside accessibility and population used
    30.7 CPU-seconds with spinning threads, 27.2 without; `make all` 57 → 53 s. A value the user set
    is kept.
    """
    import os

    if "--jobserver" in os.environ.get("MAKEFLAGS", ""):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _small_gdal_block_cache() -> None:
    """GDAL's block cache at 64 MB instead of 5 % of the machine's memory.

    The stages write and read whole bands, so the cache only holds the blocks of a raster being written
    until it is closed: with the default (1.2 GB on a 24 GB machine) a stage raster of six 32 MB bands
    kept all of them, and the influence stage peaked at 1,667 MB instead of 1,458 MB. A value the user set
    (``GDAL_CACHEMAX``) is kept.
    """
    import os

    os.environ.setdefault("GDAL_CACHEMAX", "64")


_no_huge_pages()
_passive_threads_in_parallel_make()
_small_gdal_block_cache()
