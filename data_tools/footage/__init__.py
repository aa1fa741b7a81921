"""Training sets from real footage: frames, window crops, de-duplication, splits, A/B proposal."""
