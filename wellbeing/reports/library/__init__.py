"""One module per report (``reports.catalog.LIBRARY``), each defining ``SPECS``."""
