"""Crisis response (危机快速反应): the checklist opened when a student becomes red, and guardian
contacts."""
