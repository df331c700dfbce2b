"""Analysis for people: evaluation against labels, exploration, investigation of alerts."""
