package exporter

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Options label and qualify the exported series.
type Options struct {
	// Source is the live source ("ebpf", "tracefs", "replay").
	Source string
	// Version is gpuwatch's version, for gpuwatch_build_info.
	Version string
	// Expect is the expected share (0: none), exported as
	// gpuwatch_expected_share_ratio so alerts need no constant.
	Expect float64
}

// Exporter holds gpuwatch's metrics. Update it with each new snapshot; it
// is safe for concurrent use with scrapes and pushes.
//
// The engine already aggregates everything (totals, the gap histogram), so
// the exporter is a collector: one metrics writer registered in a private
// metrics.Set renders the latest snapshot at scrape time, with HELP and
// TYPE for every family. Nothing is registered in the process-wide default
// set.
type Exporter struct {
	opts Options
	set  *metrics.Set

	mu     sync.Mutex
	snap   *gaps.Snapshot
	lost   uint64
	events uint64
}

// New returns an exporter.
func New(opts Options) *Exporter {
	e := &Exporter{opts: opts, set: metrics.NewSet()}
	e.set.RegisterMetricsWriter(e.write)
	return e
}

// Update publishes s; lost is the number of events the source lost (the
// engine's Input.Lost counts the markers it was fed, which is the same for
// every source gpuwatch has).
func (e *Exporter) Update(s *gaps.Snapshot) {
	e.mu.Lock()
	e.snap = s
	e.mu.Unlock()
}

// Handler serves /metrics.
func (e *Exporter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		e.set.WritePrometheus(w)
	})
}

// WritePrometheus writes the current metrics in the Prometheus text format.
func (e *Exporter) WritePrometheus(w io.Writer) { e.set.WritePrometheus(w) }

// PushOptions configure pushes.
type PushOptions struct {
	// Method is the HTTP method; "" means POST, which VictoriaMetrics'
	// /api/v1/import/prometheus and Pushgateway-style receivers take.
	Method string
	// ExtraLabels (`instance="vm1"`) are added to every series.
	ExtraLabels string
	// OnResult, when set, is called after each periodic push with its
	// error (nil on success). Push writes no log of its own.
	OnResult func(error)
}

func (o PushOptions) lib() *metrics.PushOptions {
	m := o.Method
	if m == "" {
		m = http.MethodPost
	}
	return &metrics.PushOptions{Method: m, ExtraLabels: o.ExtraLabels}
}

// Push pushes the metrics to url (VictoriaMetrics' /api/v1/import/prometheus,
// or any endpoint taking the Prometheus text format) every interval until
// ctx ends. The URL and options are checked at once; each push's result
// goes to opts.OnResult. (The metrics library's own push loop logs its
// errors through the standard logger, over whatever the terminal shows:
// Push runs its own loop instead.)
func (e *Exporter) Push(ctx context.Context, url string, interval time.Duration, opts PushOptions) error {
	if interval <= 0 {
		return fmt.Errorf("pushing metrics to %s: interval %v must be positive", url, interval)
	}
	// An invalid URL or label is refused before the first tick: push
	// nothing, with a context already done.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.set.PushMetrics(done, url, opts.lib()); err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", url, err)
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, interval+time.Second)
				err := e.set.PushMetrics(pctx, url, opts.lib())
				pcancel()
				if ctx.Err() != nil {
					return
				}
				if opts.OnResult != nil {
					if err != nil {
						err = fmt.Errorf("pushing metrics to %s: %w", url, err)
					}
					opts.OnResult(err)
				}
			}
		}
	}()
	return nil
}

// PushOnce pushes the current metrics once (at exit, so the last state is
// not lost between two periodic pushes).
func (e *Exporter) PushOnce(ctx context.Context, url string, opts PushOptions) error {
	if err := e.set.PushMetrics(ctx, url, opts.lib()); err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", url, err)
	}
	return nil
}

// family writes HELP and TYPE of one metric family.
func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func secs(d time.Duration) float64 { return d.Seconds() }

// label quotes a label value per the text format.
func label(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

func (e *Exporter) write(w io.Writer) {
	e.mu.Lock()
	s := e.snap
	e.mu.Unlock()

	family(w, "gpuwatch_build_info", "gauge", "Build of gpuwatch and the live source it reads, always 1.")
	fmt.Fprintf(w, "gpuwatch_build_info{version=%s,goversion=%s,source=%s} 1\n", label(e.opts.Version), label(runtime.Version()), label(e.opts.Source))
	if e.opts.Expect > 0 {
		family(w, "gpuwatch_expected_share_ratio", "gauge", "The share of the GPU the tenant expects (--expect).")
		fmt.Fprintf(w, "gpuwatch_expected_share_ratio %s\n", num(e.opts.Expect))
	}
	if s == nil {
		return
	}
	writeTimeslice(w, "", "since start", &s.Timeslice)
	writeTimeslice(w, "gpuwatch_recent_", "over the sliding horizon", &s.Recent)

	family(w, "gpuwatch_switched_out_seconds_total", "counter", "Time the VF was seen switched out (work outstanding, nothing completing) since start.")
	fmt.Fprintf(w, "gpuwatch_switched_out_seconds_total %s\n", num(secs(s.SwitchedOutTotal)))
	family(w, "gpuwatch_guest_idle_seconds_total", "counter", "Time in no-progress windows with no work outstanding (the guest was idle) since start.")
	fmt.Fprintf(w, "gpuwatch_guest_idle_seconds_total %s\n", num(secs(s.GuestIdleTotal)))
	family(w, "gpuwatch_stall_seconds_total", "counter", "Time in no-progress windows with work outstanding that do not fit a time-slice schedule.")
	fmt.Fprintf(w, "gpuwatch_stall_seconds_total %s\n", num(secs(s.StallTotal)))
	family(w, "gpuwatch_windows_total", "counter", "No-progress windows of every kind since start.")
	fmt.Fprintf(w, "gpuwatch_windows_total %d\n", s.WindowsTotal)
	family(w, "gpuwatch_window_threshold_seconds", "gauge", "No-progress duration above which a stretch counts as a window (0 until the gaps show two clusters).")
	fmt.Fprintf(w, "gpuwatch_window_threshold_seconds %s\n", num(secs(s.Threshold)))

	for _, m := range ringMetrics {
		family(w, m.name, m.typ, m.help)
		for i := range s.Rings {
			fmt.Fprintf(w, "%s{ring=%s} %s\n", m.name, label(s.Rings[i].Name), m.value(&s.Rings[i]))
		}
	}

	writeHistogram(w, "gpuwatch_gap_seconds", "Gaps between completions while work was outstanding (the switch-out signature).", &s.Gaps)

	family(w, "gpuwatch_events_total", "counter", "Events read per tracepoint.")
	names := make([]string, 0, len(s.Input.ByName))
	for n := range s.Input.ByName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "gpuwatch_events_total{event=%s} %d\n", label(n), s.Input.ByName[n])
	}
	family(w, "gpuwatch_lost_events_total", "counter", "Events the source reported lost (ring buffer overruns).")
	fmt.Fprintf(w, "gpuwatch_lost_events_total %d\n", s.Input.Lost)
	family(w, "gpuwatch_trace_seconds", "gauge", "Span of trace time analysed.")
	fmt.Fprintf(w, "gpuwatch_trace_seconds %s\n", num(float64(s.End-s.Start)/1e9))
}

func writeTimeslice(w io.Writer, prefix, scope string, t *gaps.Timeslice) {
	if prefix == "" {
		prefix = "gpuwatch_"
	}
	det := 0.0
	if t.Detected {
		det = 1
	}
	g := func(name, help string, v float64) {
		family(w, prefix+name, "gauge", help+" ("+scope+").")
		fmt.Fprintf(w, "%s%s %s\n", prefix, name, num(v))
	}
	g("timeslice_detected", "1 when a time-slice schedule is detected, 0 for passthrough or too little evidence", det)
	if !t.Detected {
		return
	}
	g("share_ratio", "Fraction of wall time the VF holds the GPU", t.Share)
	g("share_stderr_ratio", "Standard error of the share", t.ShareErr)
	g("slice_seconds", "How long the VF holds the GPU each turn", secs(t.Slice))
	g("period_seconds", "Time from one turn of the VF to the next", secs(t.Period))
	g("vfs", "Inferred number of VFs sharing the GPU (0 unknown)", float64(t.VFs))
	g("confidence_ratio", "Confidence in the inferred schedule, 0 to 1", t.Confidence)
	family(w, prefix+"mode", "gauge", "Inferred host scheduler mode, 1 for the current one ("+scope+").")
	fmt.Fprintf(w, "%smode{mode=%s} 1\n", prefix, label(string(t.Mode)))
}

func writeHistogram(w io.Writer, name, help string, h *gaps.Histogram) {
	family(w, name, "histogram", help)
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		fmt.Fprintf(w, "%s_bucket{le=%s} %d\n", name, label(num(secs(b))), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, h.Count)
	fmt.Fprintf(w, "%s_sum %s\n", name, num(secs(h.Sum)))
	fmt.Fprintf(w, "%s_count %d\n", name, h.Count)
}

// ringMetrics are the per-ring series.
var ringMetrics = []struct {
	name, typ, help string
	value           func(*gaps.RingStats) string
}{
	{"gpuwatch_jobs_total", "counter", "Jobs completed per ring.",
		func(r *gaps.RingStats) string { return strconv.FormatUint(r.Jobs, 10) }},
	{"gpuwatch_busy_seconds_total", "counter", "Time with work outstanding per ring.",
		func(r *gaps.RingStats) string { return num(secs(r.Busy)) }},
	{"gpuwatch_stalled_seconds_total", "counter", "Part of the busy time spent switched out, per ring.",
		func(r *gaps.RingStats) string { return num(secs(r.Stalled)) }},
	{"gpuwatch_in_flight_jobs", "gauge", "Jobs outstanding (queued or running, not done) per ring.",
		func(r *gaps.RingStats) string { return strconv.Itoa(r.InFlight) }},
	{"gpuwatch_job_latency_p50_seconds", "gauge", "Median job latency (submission to completion) per ring.",
		func(r *gaps.RingStats) string { return num(secs(r.LatencyP50)) }},
	{"gpuwatch_job_latency_p99_seconds", "gauge", "99th percentile job latency (submission to completion) per ring.",
		func(r *gaps.RingStats) string { return num(secs(r.LatencyP99)) }},
}
