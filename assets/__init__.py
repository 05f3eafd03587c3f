"""The Dagster layer of vvae: assets, checks, sensors, schedules; definitions.py assembles them."""
