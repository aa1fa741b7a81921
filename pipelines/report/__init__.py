"""Self-contained HTML reports (relative image files, matplotlib plots)."""
