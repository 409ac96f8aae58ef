"""``make bench``: load tests of the API next to PostgreSQL's own ceiling (see ``bench.run``)."""
