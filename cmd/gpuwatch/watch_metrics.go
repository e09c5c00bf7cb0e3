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
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
)

// metricsOptions configures the Prometheus exporter of watch.
type metricsOptions struct {
	Listen string        // address to serve /metrics on; "" disables
	Push   string        // URL to push to; "" disables
	Every  time.Duration // refresh (and push) interval; 0 means 1 s
	Expect float64       // expected share, 0 none
	// Labels (--label) are added to every series, scraped and pushed;
	// pushed series also get instance="<hostname>" unless Labels name
	// an instance.
	Labels exporter.Labels
	// PushMethod is the HTTP method of pushes ("" POST).
	PushMethod string
	// OnPush gets each periodic push's result (nil: success).
	OnPush func(error)
	// Stderr gets the address actually bound when Listen asks for port 0,
	// and a warning when Listen reaches other hosts; nil: os.Stderr.
	Stderr io.Writer
	// Cmd names the command in messages ("watch", "run"); "": watch.
	Cmd string
}

// startMetrics serves and/or pushes r's metrics until stop is called; stop
// publishes the final snapshot (and pushes it) before returning.
func startMetrics(ctx context.Context, r *live.Runner, o metricsOptions) (stop func(), err error) {
	if o.Listen == "" && o.Push == "" {
		return func() {}, nil
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	var pushLabels string
	if !o.Labels.Has("instance") {
		host, _ := os.Hostname()
		pushLabels = exporter.Label{Name: "instance", Value: host}.String()
	}
	_, st := r.Snapshot()
	e := exporter.New(exporter.Options{Source: st.Source, Version: buildVersion(), Expect: o.Expect, Labels: o.Labels})
	// publish updates the exporter; once the final snapshot is published
	// nothing replaces it (a periodic push's refresh may still be under
	// way when stop runs).
	var mu sync.Mutex
	final := false
	publish := func(s *gaps.Snapshot, last bool) {
		mu.Lock()
		defer mu.Unlock()
		if !final {
			e.Update(metricsSnapshot(s))
			final = last
		}
	}
	refresh := func() {
		s, _ := r.Snapshot()
		publish(s, false)
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
			fmt.Fprintf(stderr, "gpuwatch %s: warning: %s\n", o.cmd(), w)
		}
		if _, port, _ := net.SplitHostPort(o.Listen); port == "0" {
			fmt.Fprintf(stderr, "gpuwatch %s: metrics on http://%s/metrics\n", o.cmd(), l.Addr())
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
		// Each push refreshes first: its own ticker is not in step with
		// the refresh loop's, so it would otherwise often carry the
		// snapshot of the interval before.
		po := exporter.PushOptions{Method: o.PushMethod, ExtraLabels: pushLabels, OnResult: o.OnPush, Refresh: refresh}
		if err := e.Push(ctx, o.Push, o.Every, po); err != nil {
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
		// The last values are the final report's (the whole-run estimate
		// redone from all the evidence), as analyze would print them.
		s, _ := r.Final()
		publish(s, true)
		if o.Push != "" {
			pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := e.PushOnce(pctx, o.Push, exporter.PushOptions{Method: o.PushMethod, ExtraLabels: pushLabels}); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintln(o.stderr(), "gpuwatch:", err)
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

// metricsSnapshot converts an engine snapshot to the exporter's input: the
// one place that decides which engine number feeds which metric.
//
// The measured share (Snapshot.Share) is exported when resolved; the
// schedule's share (slice/period) whenever a schedule is detected.
func metricsSnapshot(s *gaps.Snapshot) *exporter.Snapshot {
	if s == nil {
		return nil
	}
	// The measured share covers the whole run; the horizon has only its
	// schedule.
	estimate := func(t *gaps.Timeslice, sh *gaps.ShareEstimate) exporter.Estimate {
		e := exporter.Estimate{
			Detected: t.Detected, ScheduleShare: t.ScheduleShare, ScheduleShareErr: t.ScheduleShareErr,
			Slice: t.Slice, Period: t.Period, Turn: t.Turn, PeriodSpread: t.PeriodSpread, VFs: t.VFs, Mode: string(t.Mode), Confidence: t.Confidence,
		}
		if sh != nil && sh.Resolved {
			e.ShareKnown, e.Share, e.ShareErr = true, sh.Ratio, sh.Err
		}
		return e
	}
	out := &exporter.Snapshot{
		Span:    time.Duration(s.End - s.Start),
		Overall: estimate(&s.Timeslice, &s.Share), Recent: estimate(&s.Recent, nil),
		SwitchedOut: s.SwitchedOutTotal, GuestIdle: s.GuestIdleTotal, Stall: s.StallTotal,
		Windows: s.WindowsTotal, Threshold: s.Threshold,
		Gaps:   exporter.Histogram{Bounds: s.Gaps.Bounds, Counts: s.Gaps.Counts, Sum: s.Gaps.Sum, Count: s.Gaps.Count},
		Events: s.Input.ByName, Lost: s.Input.Lost,
	}
	for _, w := range s.Windows {
		if (w.Kind == gaps.SwitchedOut || w.Kind == gaps.Stall) && w.Duration() > out.LongestRecentSwitchOut {
			out.LongestRecentSwitchOut = w.Duration()
		}
	}
	out.Rings = make([]exporter.Ring, len(s.Rings))
	for i, r := range s.Rings {
		out.Rings[i] = exporter.Ring{Name: r.Name, Jobs: r.Jobs, Busy: r.Busy, Stalled: r.Stalled, InFlight: r.InFlight,
			LatencyP50: r.LatencyP50, LatencyP99: r.LatencyP99, Processes: make([]exporter.Process, len(r.Processes))}
		for j, p := range r.Processes {
			out.Rings[i].Processes[j] = exporter.Process{Comm: p.Comm, PID: p.PID, Jobs: p.Jobs, Busy: p.Busy, Stalled: p.Stalled}
		}
	}
	return out
}

func (o metricsOptions) cmd() string {
	if o.Cmd == "" {
		return "watch"
	}
	return o.Cmd
}

func (o metricsOptions) stderr() io.Writer {
	if o.Stderr == nil {
		return os.Stderr
	}
	return o.Stderr
}
