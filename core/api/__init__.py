"""The decision service: per-user decisions and outcome events over HTTP for the shop's systems.

``python -m core.api --db PATH --port N`` serves it (see ``core.api.server``);
``python -m core.api keys ...`` manages its API keys. Routes live in
``core.api.app``, state in ``core.api.service``, per-user decisions in
``core.api.decide``, event checks in ``core.api.events``, group commits in
``core.api.writer`` and live learning in ``core.api.learn``.
"""
