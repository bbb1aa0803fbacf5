"""Starting break-glass access (see :mod:`wellbeing.breakglass.services`)."""
