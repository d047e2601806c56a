"""The ``alliance`` command line: the top layer of :mod:`experiments`.

:func:`experiments.cli.main.main` is the console script; each module registers
and runs a group of sub-commands:

- :mod:`~experiments.cli.scenarios`: ``validate``, ``run``, ``scenarios``, ``params``;
- :mod:`~experiments.cli.batch`: ``batch``, ``sweep``, ``status``, ``verify``;
- :mod:`~experiments.cli.workshop`: ``compare``, ``stress``, ``tornado``, ``report``;
- :mod:`~experiments.cli.sensitivity`: ``sensitivity``;
- :mod:`~experiments.cli.discover`: ``discover``;
- :mod:`~experiments.cli.app`: ``app``.

:mod:`~experiments.cli.common` holds what they share: checked numbers, the
one-line error contract, and the output contract every command follows
(``-q`` / ``-v``, ``--json``, stdout for output and stderr for the rest, no colour).

``python -m experiments.cli COMMAND ...`` runs the same command.
"""
