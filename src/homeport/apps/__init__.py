"""Apps as code: an app file (Helix's aispec YAML) kept in git and applied by name.

`spec` holds the models and pure helpers (references, canonical YAML, JSON Schema);
`loading` reads YAML text into `LoadedApp`s and reports every problem at once as
`SpecInvalid`, each with its file, line and column.
"""
