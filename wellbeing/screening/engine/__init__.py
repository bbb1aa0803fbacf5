"""The instrument engine: questionnaires defined as data and scored without a database.

``schema`` (the JSON Schema of instrument files and its error wording), ``instruments`` (the
YAML format, its validation and parsed form), ``scoring`` (pure scoring of one response),
``stored`` (what the intake stores of a scored response, memoised by answer pattern) and
``fhir`` (the FHIR R4 export). Nothing here touches the database, the request or the clock;
it imports nothing from the rest of ``screening``.
"""
