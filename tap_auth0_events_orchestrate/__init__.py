"""Run many Auth0 tenants side by side under Dagster (see README, "Many tenants").

Installed with the tap (`pip install 'tap-auth0-events[orchestrate]'` adds Dagster), and run
from a Meltano project: `dagster dev -m tap_auth0_events_orchestrate.definitions`.
`tenants.py` reads the tenants from that project's meltano.yml and runs one tenant's
`meltano run`; `definitions.py` holds the Dagster definitions. The tap package never imports
this one, and importing this package alone does not import Dagster.
"""
