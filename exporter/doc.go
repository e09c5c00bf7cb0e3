// Package exporter turns measurements of one guest's GPU time slice into
// Prometheus metrics in a private VictoriaMetrics/metrics set, served at
// /metrics and optionally pushed to a VictoriaMetrics or
// Prometheus-compatible endpoint.
//
// The caller fills a Snapshot (gpuwatch converts its engine's snapshots)
// and hands it to Exporter.Update; the metrics are rendered from the latest
// one at every scrape or push, with the constant labels of Options.Labels
// (ParseLabel validates them) on every series.
package exporter
