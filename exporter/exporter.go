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
	// Labels are added to every series (guest="vm1"), scraped and pushed
	// alike. Build them with ParseLabel or Labels.Set, which validate them.
	Labels Labels
}

// Exporter holds gpuwatch's metrics. Update it with each new snapshot; it
// is safe for concurrent use with scrapes and pushes.
//
// A Snapshot already holds aggregates (totals, the gap histogram), so the
// exporter is a collector: one metrics writer registered in a private
// metrics.Set renders the latest snapshot at scrape time, with HELP and
// TYPE for every family. Nothing is registered in the process-wide default
// set.
type Exporter struct {
	opts Options
	set  *metrics.Set

	mu   sync.Mutex
	snap *Snapshot
}

// New returns an exporter.
func New(opts Options) *Exporter {
	e := &Exporter{opts: opts, set: metrics.NewSet()}
	e.set.RegisterMetricsWriter(e.write)
	return e
}

// Update publishes s, which the exporter keeps and reads at every scrape
// and push: the caller must not change it afterwards.
func (e *Exporter) Update(s *Snapshot) {
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
	// Refresh, when set, is called before each periodic push (not by
	// PushOnce): the caller Updates the exporter there, so that a push
	// carries the state of its own moment, not of an earlier update.
	Refresh func()
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
				if opts.Refresh != nil {
					opts.Refresh()
				}
				pctx, pcancel := context.WithTimeout(ctx, interval+time.Second)
				err := e.PushOnce(pctx, url, opts)
				pcancel()
				if ctx.Err() != nil {
					return
				}
				if opts.OnResult != nil {
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

// quote quotes a label value per the text format.
// labelEscaper escapes a label value for the text exposition format.
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func quote(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// series writes samples, each with the exporter's constant labels after
// its own.
type series struct {
	w        io.Writer
	constant string // `guest="vm1",host="h1"`, or ""
}

// sample writes one sample; labels are the series' own, `ring="gfx"` or "".
func (s series) sample(name, labels, value string) {
	switch {
	case labels == "" && s.constant == "":
		fmt.Fprintf(s.w, "%s %s\n", name, value)
	case labels == "":
		fmt.Fprintf(s.w, "%s{%s} %s\n", name, s.constant, value)
	case s.constant == "":
		fmt.Fprintf(s.w, "%s{%s} %s\n", name, labels, value)
	default:
		fmt.Fprintf(s.w, "%s{%s,%s} %s\n", name, labels, s.constant, value)
	}
}

func (e *Exporter) write(w io.Writer) {
	e.mu.Lock()
	s := e.snap
	e.mu.Unlock()
	out := series{w: w, constant: e.opts.Labels.String()}

	family(w, "gpuwatch_build_info", "gauge", "Build of gpuwatch and the live source it reads, always 1.")
	out.sample("gpuwatch_build_info", fmt.Sprintf("version=%s,goversion=%s,source=%s", quote(e.opts.Version), quote(runtime.Version()), quote(e.opts.Source)), "1")
	if e.opts.Expect > 0 {
		family(w, "gpuwatch_expected_share_ratio", "gauge", "The share of the GPU the tenant expects (--expect).")
		out.sample("gpuwatch_expected_share_ratio", "", num(e.opts.Expect))
	}
	if s == nil {
		return
	}
	writeEstimate(out, "gpuwatch_", "since start", &s.Overall)
	writeEstimate(out, "gpuwatch_recent_", "over the sliding horizon", &s.Recent)

	one := func(name, typ, help string, v float64) {
		family(w, name, typ, help)
		out.sample(name, "", num(v))
	}
	one("gpuwatch_switched_out_seconds_total", "counter", "Time the VF was seen switched out (work outstanding, nothing completing) since start.", secs(s.SwitchedOut))
	one("gpuwatch_guest_idle_seconds_total", "counter", "Time in no-progress windows with no work outstanding (the guest was idle) since start.", secs(s.GuestIdle))
	one("gpuwatch_stall_seconds_total", "counter", "Time in no-progress windows with work outstanding that do not fit a time-slice schedule.", secs(s.Stall))
	one("gpuwatch_windows_total", "counter", "No-progress windows of every kind since start.", float64(s.Windows))
	one("gpuwatch_window_threshold_seconds", "gauge", "No-progress duration above which a stretch counts as a window (0 until the gaps show two clusters).", secs(s.Threshold))
	one("gpuwatch_recent_longest_switch_out_seconds", "gauge", "Longest window with work outstanding and nothing completing (switched out or stall, open one included) over the sliding horizon.", secs(s.LongestRecentSwitchOut))

	for _, m := range ringMetrics {
		family(w, m.name, m.typ, m.help)
		for i := range s.Rings {
			out.sample(m.name, "ring="+quote(s.Rings[i].Name), m.value(&s.Rings[i]))
		}
	}
	for _, m := range processMetrics {
		family(w, m.name, m.typ, m.help)
		for i := range s.Rings {
			r := &s.Rings[i]
			for j := range r.Processes {
				p := &r.Processes[j]
				out.sample(m.name, fmt.Sprintf("ring=%s,comm=%s,pid=\"%d\"", quote(r.Name), quote(p.Comm), p.PID), m.value(p))
			}
		}
	}

	writeHistogram(out, "gpuwatch_gap_seconds", "Gaps between completions while work was outstanding (the switch-out signature).", &s.Gaps)

	family(w, "gpuwatch_events_total", "counter", "Events read per tracepoint.")
	names := make([]string, 0, len(s.Events))
	for n := range s.Events {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out.sample("gpuwatch_events_total", "event="+quote(n), strconv.FormatUint(s.Events[n], 10))
	}
	one("gpuwatch_lost_events_total", "counter", "Events the source reported lost (ring buffer overruns).", float64(s.Lost))
	one("gpuwatch_trace_seconds", "gauge", "Span of trace time analysed.", secs(s.Span))
}

func writeEstimate(out series, prefix, scope string, t *Estimate) {
	g := func(name, help string, v float64) {
		family(out.w, prefix+name, "gauge", help+" ("+scope+").")
		out.sample(prefix+name, "", num(v))
	}
	det := 0.0
	if t.Detected {
		det = 1
	}
	g("timeslice_detected", "1 when a time-slice schedule is detected, 0 for passthrough or too little evidence", det)
	known := 0.0
	if t.ShareKnown {
		known = 1
	}
	g("share_resolved", "1 when the data resolves the measured share, 0 when it cannot (jobs too long, too few windows)", known)
	if t.ShareKnown {
		g("share_ratio", "Measured share: fraction of the time with work outstanding during which the VF held the GPU", t.Share)
		g("share_stderr_ratio", "Standard error of the measured share", t.ShareErr)
	}
	if !t.Detected {
		return
	}
	g("schedule_share_ratio", "Share the host's schedule gives while it runs: slice over period", t.ScheduleShare)
	g("schedule_share_stderr_ratio", "Standard error of the schedule share", t.ScheduleShareErr)
	g("slice_seconds", "How long the VF holds the GPU each turn", secs(t.Slice))
	g("period_seconds", "Time from one turn of the VF to the next", secs(t.Period))
	turn := t.Turn
	if turn <= 0 {
		turn = t.Slice
	}
	g("turn_seconds", "Mean time the VF holds the GPU per turn (whole multiples of the slice on a liquid host)", secs(turn))
	if t.PeriodSpread > 0 {
		g("period_spread_seconds", "Standard deviation of the times from one turn to the next (variable mode)", secs(t.PeriodSpread))
	}
	g("vfs", "Inferred number of VFs sharing the GPU (0 unknown)", float64(t.VFs))
	g("confidence_ratio", "Confidence in the inferred schedule, 0 to 1", t.Confidence)
	family(out.w, prefix+"mode", "gauge", "Inferred host scheduler mode, 1 for the current one ("+scope+").")
	out.sample(prefix+"mode", "mode="+quote(t.Mode), "1")
}

func writeHistogram(out series, name, help string, h *Histogram) {
	family(out.w, name, "histogram", help)
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		out.sample(name+"_bucket", "le="+quote(num(secs(b))), strconv.FormatUint(cum, 10))
	}
	out.sample(name+"_bucket", `le="+Inf"`, strconv.FormatUint(h.Count, 10))
	out.sample(name+"_sum", "", num(secs(h.Sum)))
	out.sample(name+"_count", "", strconv.FormatUint(h.Count, 10))
}

// ringMetrics are the per-ring series.
var ringMetrics = []struct {
	name, typ, help string
	value           func(*Ring) string
}{
	{"gpuwatch_jobs_total", "counter", "Jobs completed per ring.",
		func(r *Ring) string { return strconv.FormatUint(r.Jobs, 10) }},
	{"gpuwatch_busy_seconds_total", "counter", "Time with work outstanding per ring.",
		func(r *Ring) string { return num(secs(r.Busy)) }},
	{"gpuwatch_stalled_seconds_total", "counter", "Part of the busy time spent switched out, per ring.",
		func(r *Ring) string { return num(secs(r.Stalled)) }},
	{"gpuwatch_in_flight_jobs", "gauge", "Jobs outstanding (queued or running, not done) per ring.",
		func(r *Ring) string { return strconv.Itoa(r.InFlight) }},
	{"gpuwatch_job_latency_p50_seconds", "gauge", "Median job latency (submission to completion) per ring.",
		func(r *Ring) string { return num(secs(r.LatencyP50)) }},
	{"gpuwatch_job_latency_p99_seconds", "gauge", "99th percentile job latency (submission to completion) per ring.",
		func(r *Ring) string { return num(secs(r.LatencyP99)) }},
}

// processMetrics are the per-process series (ring, comm, pid).
var processMetrics = []struct {
	name, typ, help string
	value           func(*Process) string
}{
	{"gpuwatch_process_jobs_total", "counter", "Jobs completed per submitting process and ring.",
		func(p *Process) string { return strconv.FormatUint(p.Jobs, 10) }},
	{"gpuwatch_process_busy_seconds_total", "counter", "Time with the process's jobs outstanding, per ring.",
		func(p *Process) string { return num(secs(p.Busy)) }},
	{"gpuwatch_process_stalled_seconds_total", "counter", "Part of the process's busy time spent switched out, per ring.",
		func(p *Process) string { return num(secs(p.Stalled)) }},
}
