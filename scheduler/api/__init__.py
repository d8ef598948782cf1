"""The HTTP API: Scale's v6 system endpoints and what operators of such daemons expect besides."""
