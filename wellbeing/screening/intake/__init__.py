"""The intake: the one path by which responses enter, whatever the way in (form, kiosk, file,
API), and what it reports.

``pipeline`` (resolve, check, score and write entries in batches, all or nothing), ``importer``
(result files: column layout, cell parsing, the two-pass import), ``rows`` (driver-level reads
and writes of the hot path), ``seen`` (what one intake has seen so far), ``report`` (per-row
errors and counts) and ``messages`` (the per-row English problems translated for the upload
page). It builds on :mod:`..engine`; the services and views above use it.
"""
