"""The workbench: each person's home page (what needs them today) and their caseload."""
