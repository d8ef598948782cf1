"""scale-scheduler: a Mesos framework daemon that serves Scale's v6 system API."""

__version__ = "0.1.0"
