"""办事指南: the matter catalogue, guides, search, bundles (一件事)."""
