// Package exporter turns engine snapshots into Prometheus metrics in a
// private VictoriaMetrics/metrics set, served at /metrics and optionally
// pushed to a VictoriaMetrics or Prometheus-compatible endpoint.
package exporter
