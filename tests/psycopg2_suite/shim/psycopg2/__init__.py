"""``import psycopg2`` -> pgpool, for running psycopg2's test suite on pgpool.

tests/psycopg2_suite/suite.py puts this directory first on ``PYTHONPATH`` for the pgpool
run (also inherited by the subprocesses some tests start). Importing it calls
``pgpool.install_as_psycopg2()``, which replaces this module in ``sys.modules`` with
pgpool's psycopg2 facade and registers its submodules under the psycopg2 names, so the
suite's ``import psycopg2.extras`` and the rest get pgpool's.
"""

import pgpool

pgpool.install_as_psycopg2()
