"""Run many Auth0 tenants side by side under Dagster (see README, "Many tenants").

`tenants.py` reads the tenants from meltano.yml and runs one tenant's `meltano run`;
`definitions.py` holds the Dagster definitions: `dagster dev -m orchestrate.definitions`.
Installed with the `orchestrate` extra; the tap package never imports this.
"""
