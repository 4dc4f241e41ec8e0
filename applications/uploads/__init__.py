"""Material uploads: checks, GridFS storage, the vault, references at submission."""
