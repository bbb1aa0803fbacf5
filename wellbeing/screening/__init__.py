"""Screening: campaigns of questionnaires defined as data (YAML), scored by a pure engine.

Layout, bottom up: :mod:`.engine` (instruments, scoring, FHIR: no database, no request),
:mod:`.intake` (the one path by which responses enter: pipeline, file importer, reports),
then the module-standard files (``models``, ``services``, ``review``, ``history``,
``queries``, ``forms``, ``views``, ``api``, ``cli``, ``jobs``), and :mod:`.kiosk` (the
kiosk and the answers it holds for review, built on the services)."""
