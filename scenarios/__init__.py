"""The scenario library: world + policy TOML files and stress overlays (overlays/)."""
