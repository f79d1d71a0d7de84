"""The hits function's routes, one Powertools ``Router`` per resource (``app.py`` includes
them all into the one resolver, so one function, one cold start): ``site`` (the seed's
counter), ``health``, ``history`` (``/stats`` and ``/dashboard``) and ``pages``."""
