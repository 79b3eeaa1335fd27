"""Floor 8 (a leaf): rendering for people: notebook HTML, lineage drawings, progress bars.

Renderers take plain data (records are read by attribute, never imported as types);
nothing here reads the catalog, hashes or runs anything, and nothing here imports
another consist package.
"""
