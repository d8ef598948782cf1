"""A protocol-faithful simulated Mesos 1.11 master (v1 scheduler HTTP API).

Used by tests, benchmarks and the daemon's dev mode. See README.md here.

    handle = await serve_sim(SimConfig(agents=10))
    ... talk to handle.url ...
    await handle.close()
"""

from scheduler.sim.options import SimConfig
from scheduler.sim.server import SimHandle, SimMaster, create_sim_app, run_sim, serve_sim
from scheduler.sim.state import MasterState

__all__ = ["MasterState", "SimConfig", "SimHandle", "SimMaster", "create_sim_app", "run_sim", "serve_sim"]
