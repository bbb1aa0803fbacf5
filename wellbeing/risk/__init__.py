"""Risk tiers, the district tier policy and special-care categories."""
