"""Reports: HTML and plots from results; reads results, never computes signals."""
