"""The v6 status document: built from the core each second, served as pre-serialized bytes."""
