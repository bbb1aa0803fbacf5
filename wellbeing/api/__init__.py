"""The JSON API base at ``/api/v1``: who am I, and the OpenAPI document assembled from every
module's ``api.py`` (``OPENAPI_PATHS``, ``OPENAPI_SCHEMAS``)."""
