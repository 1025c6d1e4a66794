"""The model catalogue: one TOML file per downloadable model (installed as tracer_cli.catalogue)."""
