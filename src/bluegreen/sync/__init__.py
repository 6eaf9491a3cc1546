"""One sync window, and the loops that run windows until green has caught up."""
