"""Metrics: ProFTPD mod_prometheus's metric names, fed by the event flow, served by a
Prometheus exporter."""
