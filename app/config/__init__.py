"""Configuration: the workflows and settings the App runs on, and how they are read.

``schema.py`` declares the YAML's shape, ``build.py`` checks what spans keys and builds the
frozen ``model.py``, ``loader.py`` reads the folder; ``overrides.py`` merges a repository's
``.github/flywheel.yml``, ``formcheck.py`` compares issue forms with the workflows.
"""
