"""One limit on BLAS/OpenMP threads for every fit and scoring call.

On a shared 2-core machine a scikit-learn fit ran 40x slower (287.7 s vs 7.2 s) from
thread oversubscription, and 7.4 s under the same load with one thread (FACTS.md). The
limit also keeps fits repeatable: the same thread count gives the same summation order.
``COPYLIFT_THREADS`` (default 1) sets it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


def thread_count() -> int:
    """The configured number of BLAS/OpenMP threads (at least 1)."""
    try:
        return max(1, int(os.environ.get("COPYLIFT_THREADS", "1")))
    except ValueError:
        return 1


@contextmanager
def limited_threads() -> Iterator[None]:
    """Run the body with BLAS and OpenMP pools (and torch) held to ``thread_count()`` threads."""
    n = thread_count()
    with threadpool_limits(limits=n):
        yield
