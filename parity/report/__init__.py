"""What the judge found (``model``) and its outputs: console text, report.json, report.md, plots."""
