"""Linking related requests across communities: text and vectors, scoring, the index, the linker."""
