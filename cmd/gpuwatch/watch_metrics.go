package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/exporter"
	"github.com/gpuwatch/gpuwatch/internal/live"
)

// metricsOptions configures the Prometheus exporter of watch.
type metricsOptions struct {
	Listen string        // address to serve /metrics on; "" disables
	Push   string        // URL to push to; "" disables
	Every  time.Duration // refresh (and push) interval; 0 means 1 s
	Expect float64       // expected share, 0 none
	// Labels are extra `name="value"` labels added to pushed series;
	// "" means instance="<hostname>".
	Labels string
	// PushMethod is the HTTP method of pushes ("" POST).
	PushMethod string
	// OnPush gets each periodic push's result (nil: success).
	OnPush func(error)
	// Stderr gets the address actually bound when Listen asks for port 0,
	// and a warning when Listen reaches other hosts; nil: os.Stderr.
	Stderr io.Writer
}

// startMetrics serves and/or pushes r's metrics until stop is called; stop
// publishes the last snapshot (and pushes it) before returning.
func startMetrics(ctx context.Context, r *live.Runner, o metricsOptions) (stop func(), err error) {
	if o.Listen == "" && o.Push == "" {
		return func() {}, nil
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Labels == "" {
		host, _ := os.Hostname()
		o.Labels = fmt.Sprintf("instance=%q", host)
	}
	_, st := r.Snapshot()
	e := exporter.New(exporter.Options{Source: st.Source, Version: buildVersion(), Expect: o.Expect})
	refresh := func() {
		s, _ := r.Snapshot()
		e.Update(s)
	}
	refresh()

	ctx, cancel := context.WithCancel(ctx)
	var srv *http.Server
	if o.Listen != "" {
		l, err := net.Listen("tcp", o.Listen)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("listening for metrics on %s: %w", o.Listen, err)
		}
		stderr := o.stderr()
		if w := listenWarning(o.Listen); w != "" {
			fmt.Fprintln(stderr, "gpuwatch watch: warning:", w)
		}
		if _, port, _ := net.SplitHostPort(o.Listen); port == "0" {
			fmt.Fprintf(stderr, "gpuwatch watch: metrics on http://%s/metrics\n", l.Addr())
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", e.Handler())
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(l)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
	if o.Push != "" {
		if err := e.Push(ctx, o.Push, o.Every, exporter.PushOptions{Method: o.PushMethod, ExtraLabels: o.Labels, OnResult: o.OnPush}); err != nil {
			cancel()
			if srv != nil {
				srv.Close()
			}
			return nil, err
		}
	}
	return func() {
		cancel()
		wg.Wait()
		refresh()
		if o.Push != "" {
			pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := e.PushOnce(pctx, o.Push, exporter.PushOptions{Method: o.PushMethod, ExtraLabels: o.Labels}); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintln(o.stderr(), "gpuwatch watch:", err)
			}
			pcancel()
		}
		if srv != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(sctx)
			scancel()
		}
	}, nil
}

func (o metricsOptions) stderr() io.Writer {
	if o.Stderr == nil {
		return os.Stderr
	}
	return o.Stderr
}
