package main

import (
	"context"

	"github.com/gpuwatch/gpuwatch/internal/live"
)

// metricsOptions configures the Prometheus exporter of watch.
type metricsOptions struct {
	Listen string // address to serve /metrics on; "" disables
	Push   string // URL to push to; "" disables
}

// startMetrics serves and/or pushes r's metrics until stop is called.
func startMetrics(ctx context.Context, r *live.Runner, o metricsOptions) (stop func(), err error) {
	return func() {}, nil
}
