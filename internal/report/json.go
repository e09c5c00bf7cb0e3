package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Schema names the JSON document's version.
const Schema = "gpuwatch.analysis/v1"

// Doc is the JSON analysis document.
type Doc struct {
	Schema string     `json:"schema"`
	Input  JSONInput  `json:"input"`
	Span   JSONSpan   `json:"span"`
	Rings  []JSONRing `json:"rings"`
	// Share is the measured share over the whole span (what the VF got);
	// Timeslice.ScheduleShare is what the host's schedule gives.
	Share     JSONShare     `json:"share"`
	Timeslice JSONTimeslice `json:"timeslice"`
	// Recent is the estimate over the live horizon only (watch); omitted
	// offline, where it equals Timeslice.
	Recent *JSONTimeslice `json:"recent,omitempty"`
	// ThresholdSeconds: no-progress stretches longer than this are windows
	// (0 when the gap histogram shows no separate cluster).
	ThresholdSeconds float64          `json:"threshold_seconds"`
	Gaps             JSONHistogram    `json:"gaps"`
	WindowsTotal     JSONWindowTotals `json:"windows_total"`
	// LongWindows are the longest no-progress windows with work
	// outstanding (outages, starvation): at most 16, in time order.
	LongWindows []JSONWindow `json:"long_windows"`
	Windows     []JSONWindow `json:"windows"`
	Verdict     *JSONVerdict `json:"verdict,omitempty"`
}

// JSONShare is the measured share: of the time the guest had GPU work
// outstanding, the fraction during which the VF held the GPU.
type JSONShare struct {
	Ratio float64 `json:"ratio"`
	Err   float64 `json:"err"`
	// Resolved is false when the trace cannot resolve the share (Reason
	// says why); Ratio is then at best a bound.
	Resolved    bool   `json:"resolved"`
	Passthrough bool   `json:"passthrough,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Gap says why the measured share and the schedule's differ, when
	// they differ by more than their errors.
	Gap             string  `json:"gap,omitempty"`
	BusySeconds     float64 `json:"busy_seconds"`
	UnservedSeconds float64 `json:"unserved_seconds"`
	Windows         int     `json:"windows"`
}

// JSONInput counts what was read.
type JSONInput struct {
	File           string `json:"file,omitempty"`
	Format         string `json:"format,omitempty"`
	Lines          uint64 `json:"lines,omitempty"`
	Events         uint64 `json:"events"`
	LostEvents     uint64 `json:"lost_events"`
	UnknownLines   uint64 `json:"unknown_lines"`
	MalformedLines uint64 `json:"malformed_lines"`
	Warnings       uint64 `json:"warnings"`
	// UnmatchedCompletions: completions whose submission was not seen.
	UnmatchedCompletions uint64 `json:"unmatched_completions"`
	// ImpliedCompletions: jobs retired because a later job of their ring completed.
	ImpliedCompletions uint64 `json:"implied_completions"`
	// ExpiredJobs: jobs dropped without completion after the maximum job age.
	ExpiredJobs      uint64            `json:"expired_jobs"`
	OutOfOrderEvents uint64            `json:"out_of_order_events"`
	ByEvent          map[string]uint64 `json:"by_event,omitempty"`
	// DuplicateEvents: amdgpu job events and scheduler fence signals
	// left out because gpu_scheduler events describe the same jobs.
	DuplicateEvents uint64 `json:"duplicate_events,omitempty"`
	// OtherFences: dma_fence signals that end no job (hardware fences,
	// other drivers' fences).
	OtherFences uint64 `json:"other_fences,omitempty"`
	// UnmatchedSchedulerFences: scheduler fence signals of no job seen.
	UnmatchedSchedulerFences uint64 `json:"unmatched_scheduler_fences,omitempty"`
	// CompleteFromSeconds: the trace time from which every CPU's events
	// are complete, where some CPUs' buffers began late.
	CompleteFromSeconds float64 `json:"complete_from_seconds,omitempty"`
	// CappedRingEvents: events of rings beyond the ring table's cap,
	// followed under the ring "(other)"; CappedTaskJobs: jobs of tasks
	// beyond a ring's task table, under the task "(other)".
	CappedRingEvents uint64 `json:"capped_ring_events,omitempty"`
	CappedTaskJobs   uint64 `json:"capped_task_jobs,omitempty"`
}

// JSONSpan is the stretch of trace time analysed.
type JSONSpan struct {
	StartSeconds    float64 `json:"start_seconds"`
	EndSeconds      float64 `json:"end_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// JSONRing is one ring (drm_sched scheduler).
type JSONRing struct {
	Name              string        `json:"name"`
	Jobs              uint64        `json:"jobs"`
	BusySeconds       float64       `json:"busy_seconds"`
	StalledSeconds    float64       `json:"stalled_seconds"`
	StalledRatio      float64       `json:"stalled_ratio"` // stalled / busy
	InFlight          int           `json:"in_flight"`
	LatencyP50Seconds float64       `json:"latency_p50_seconds"`
	LatencyP99Seconds float64       `json:"latency_p99_seconds"`
	Processes         []JSONProcess `json:"processes,omitempty"`
}

// JSONProcess is one submitting task on a ring.
type JSONProcess struct {
	Comm           string  `json:"comm"`
	PID            int32   `json:"pid"`
	Jobs           uint64  `json:"jobs"`
	BusySeconds    float64 `json:"busy_seconds"`
	StalledSeconds float64 `json:"stalled_seconds"`
}

// JSONTimeslice is the inferred host schedule.
type JSONTimeslice struct {
	Detected         bool    `json:"detected"`
	Reason           string  `json:"reason,omitempty"`
	SliceSeconds     float64 `json:"slice_seconds"`
	SliceErrSeconds  float64 `json:"slice_err_seconds"`
	PeriodSeconds    float64 `json:"period_seconds"`
	PeriodErrSeconds float64 `json:"period_err_seconds"`
	// TurnSeconds (when turns last several whole multiples of the slice,
	// as on a liquid host) is the mean turn; PeriodSpreadSeconds
	// (variable mode) the standard deviation of the turn-to-turn times.
	TurnSeconds         float64 `json:"turn_seconds,omitempty"`
	TurnErrSeconds      float64 `json:"turn_err_seconds,omitempty"`
	PeriodSpreadSeconds float64 `json:"period_spread_seconds,omitempty"`
	// Share and ShareErr are ScheduleShare and ScheduleShareErr under
	// their first name (v1 documents had only these).
	Share             float64 `json:"share"`
	ShareErr          float64 `json:"share_err"`
	ScheduleShare     float64 `json:"schedule_share"`
	ScheduleShareErr  float64 `json:"schedule_share_err"`
	VFs               int     `json:"vfs"`
	SwitchCostSeconds float64 `json:"switch_cost_seconds"`
	Mode              string  `json:"mode"`
	Confidence        float64 `json:"confidence"`
	// Windows is the number of switched-out windows the estimate rests on.
	Windows int `json:"windows"`
}

// JSONHistogram is the histogram of gaps between completions while work
// was outstanding. Buckets are upper-bound inclusive; the last bucket has
// no bound (le_seconds null).
type JSONHistogram struct {
	Count      uint64       `json:"count"`
	SumSeconds float64      `json:"sum_seconds"`
	Buckets    []JSONBucket `json:"buckets"`
}

// JSONBucket is one histogram bucket.
type JSONBucket struct {
	LeSeconds *float64 `json:"le_seconds"` // nil: +Inf
	Count     uint64   `json:"count"`
}

// JSONWindowTotals sums windows per kind.
type JSONWindowTotals struct {
	SwitchedOut JSONKindTotal `json:"switched_out"`
	GuestIdle   JSONKindTotal `json:"guest_idle"`
	Stall       JSONKindTotal `json:"stall"`
	// Steal: windows in which the GPU ran but the guest's vCPU was held
	// up, delivering the completions at once afterwards.
	Steal JSONKindTotal `json:"steal"`
	// All counts windows of every kind since the start (live: whatever
	// the horizon).
	All uint64 `json:"all"`
}

// JSONKindTotal is the number and total duration of one kind of window.
// Seconds covers the whole run; Count the windows listed in the document.
type JSONKindTotal struct {
	Count   int     `json:"count"`
	Seconds float64 `json:"seconds"`
}

// JSONWindow is one stretch without progress.
type JSONWindow struct {
	StartSeconds    float64 `json:"start_seconds"`
	EndSeconds      float64 `json:"end_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	Kind            string  `json:"kind"`
	InFlight        int     `json:"in_flight"`
	Open            bool    `json:"open,omitempty"`
}

// JSONVerdict is the --expect verdict.
type JSONVerdict struct {
	// Outcome is "pass", "fail" or "undetermined" (the trace cannot tell).
	Outcome  string  `json:"outcome"`
	Expected float64 `json:"expected"`
	Measured float64 `json:"measured"`
	ShareErr float64 `json:"share_err"`
	// Allowance is the part of the expectation excused as world-switch
	// overhead.
	Allowance  float64 `json:"allowance"`
	Margin     float64 `json:"margin"`
	Confidence float64 `json:"confidence"`
	OK         bool    `json:"ok"`
	// Undetermined is Outcome == "undetermined".
	Undetermined bool   `json:"undetermined,omitempty"`
	Rule         string `json:"rule"`
	// Note is the reason in words; Resolve what would resolve an
	// undetermined verdict.
	Note    string `json:"note,omitempty"`
	Resolve string `json:"resolve,omitempty"`
}

// VerdictRule is the verdict rule, for people (docs/verdict.md has it whole).
const VerdictRule = "PASS when share + 2*share_err >= expected - world-switch allowance; UNDETERMINED when the trace cannot resolve the share"

// Share converts the measured share.
func Share(s *gaps.Snapshot) JSONShare {
	m := &s.Share
	return JSONShare{
		Ratio: ratio(m.Ratio), Err: ratio(m.Err), Resolved: m.Resolved, Passthrough: m.Passthrough,
		Reason: m.Reason, Gap: ShareGap(s), BusySeconds: dsec(m.Busy), UnservedSeconds: dsec(m.Unserved), Windows: m.Windows,
	}
}

// Seconds converts trace-clock nanoseconds to seconds.
func Seconds(ns int64) float64 { return float64(ns) / 1e9 }

func dsec(d time.Duration) float64 { return Seconds(int64(d)) }

// ratio rounds r to 1e-6.
func ratio(r float64) float64 {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0
	}
	return math.Round(r*1e6) / 1e6
}

// Timeslice converts an inferred schedule.
func Timeslice(ts *gaps.Timeslice) JSONTimeslice {
	mode := string(ts.Mode)
	if mode == "" {
		mode = string(gaps.ModeNone)
	}
	return JSONTimeslice{
		Detected:            ts.Detected,
		Reason:              ts.Reason,
		SliceSeconds:        dsec(ts.Slice),
		SliceErrSeconds:     dsec(ts.SliceErr),
		PeriodSeconds:       dsec(ts.Period),
		PeriodErrSeconds:    dsec(ts.PeriodErr),
		TurnSeconds:         dsec(ts.Turn),
		TurnErrSeconds:      dsec(ts.TurnErr),
		PeriodSpreadSeconds: dsec(ts.PeriodSpread),
		Share:               ratio(ts.ScheduleShare),
		ShareErr:            ratio(ts.ScheduleShareErr),
		ScheduleShare:       ratio(ts.ScheduleShare),
		ScheduleShareErr:    ratio(ts.ScheduleShareErr),
		VFs:                 ts.VFs,
		SwitchCostSeconds:   dsec(ts.SwitchCost),
		Mode:                mode,
		Confidence:          ratio(ts.Confidence),
		Windows:             ts.Windows,
	}
}

// Window converts one window.
func Window(w *gaps.Window) JSONWindow {
	return JSONWindow{
		StartSeconds:    Seconds(w.Start),
		EndSeconds:      Seconds(w.End),
		DurationSeconds: dsec(w.Duration()),
		Kind:            string(w.Kind),
		InFlight:        w.InFlight,
		Open:            w.Open,
	}
}

// Rings converts the per-ring statistics.
func Rings(rs []gaps.RingStats) []JSONRing {
	out := make([]JSONRing, 0, len(rs))
	for _, r := range rs {
		jr := JSONRing{
			Name:              r.Name,
			Jobs:              r.Jobs,
			BusySeconds:       dsec(r.Busy),
			StalledSeconds:    dsec(r.Stalled),
			InFlight:          r.InFlight,
			LatencyP50Seconds: dsec(r.LatencyP50),
			LatencyP99Seconds: dsec(r.LatencyP99),
		}
		if r.Busy > 0 {
			jr.StalledRatio = ratio(float64(r.Stalled) / float64(r.Busy))
		}
		for _, p := range r.Processes {
			jr.Processes = append(jr.Processes, JSONProcess{
				Comm: p.Comm, PID: p.PID, Jobs: p.Jobs,
				BusySeconds: dsec(p.Busy), StalledSeconds: dsec(p.Stalled),
			})
		}
		out = append(out, jr)
	}
	return out
}

// Histogram converts a duration histogram.
func Histogram(h *gaps.Histogram) JSONHistogram {
	jh := JSONHistogram{Count: h.Count, SumSeconds: dsec(h.Sum), Buckets: []JSONBucket{}}
	for i, c := range h.Counts {
		b := JSONBucket{Count: c}
		if i < len(h.Bounds) {
			le := dsec(h.Bounds[i])
			b.LeSeconds = &le
		}
		jh.Buckets = append(jh.Buckets, b)
	}
	return jh
}

// WindowTotals sums the windows of s per kind.
func WindowTotals(s *gaps.Snapshot) JSONWindowTotals {
	t := JSONWindowTotals{All: s.WindowsTotal}
	t.SwitchedOut.Seconds = dsec(s.SwitchedOutTotal)
	t.GuestIdle.Seconds = dsec(s.GuestIdleTotal)
	t.Stall.Seconds = dsec(s.StallTotal)
	t.Steal.Seconds = dsec(s.StealTotal)
	for _, w := range s.Windows {
		switch w.Kind {
		case gaps.SwitchedOut:
			t.SwitchedOut.Count++
		case gaps.GuestIdle:
			t.GuestIdle.Count++
		case gaps.Stall:
			t.Stall.Count++
		case gaps.Steal:
			t.Steal.Count++
		}
	}
	return t
}

// Span converts the snapshot's span.
func Span(s *gaps.Snapshot) JSONSpan {
	return JSONSpan{StartSeconds: Seconds(s.Start), EndSeconds: Seconds(s.End), DurationSeconds: Seconds(s.End - s.Start)}
}

// Doc builds the JSON document of a.
func (a *Analysis) Doc() *Doc {
	s := a.Snapshot
	d := &Doc{
		Schema: Schema,
		Input: JSONInput{
			File:                 a.Input.File,
			Format:               a.Input.Format,
			Lines:                a.Input.Lines,
			Events:               a.Input.Events,
			LostEvents:           a.Input.Lost,
			UnknownLines:         a.Input.Unknown,
			MalformedLines:       a.Input.Malformed,
			Warnings:             a.Input.Warnings,
			UnmatchedCompletions: s.Input.Unmatched,
			ImpliedCompletions:   s.Input.Implied,
			ExpiredJobs:          s.Input.Expired,
			OutOfOrderEvents:     s.Input.OutOfOrder,
			ByEvent:              s.Input.ByName,

			DuplicateEvents:          s.Input.Duplicate,
			OtherFences:              s.Input.FencesOther,
			UnmatchedSchedulerFences: s.Input.FencesUnmatched,
			CompleteFromSeconds:      float64(s.Input.CompleteFrom) / 1e9,
			CappedRingEvents:         s.Input.RingsCapped,
			CappedTaskJobs:           s.Input.TasksCapped,
		},
		Span:             Span(s),
		Rings:            Rings(s.Rings),
		Share:            Share(s),
		Timeslice:        Timeslice(&s.Timeslice),
		LongWindows:      make([]JSONWindow, 0, len(s.Long)),
		ThresholdSeconds: dsec(s.Threshold),
		Gaps:             Histogram(&s.Gaps),
		WindowsTotal:     WindowTotals(s),
		Windows:          make([]JSONWindow, 0, len(s.Windows)),
	}
	for i := range s.Windows {
		d.Windows = append(d.Windows, Window(&s.Windows[i]))
	}
	for i := range s.Long {
		d.LongWindows = append(d.LongWindows, Window(&s.Long[i]))
	}
	if v := a.Verdict; v != nil {
		d.Verdict = &JSONVerdict{
			Outcome: string(v.Outcome), Expected: ratio(v.Expected), Measured: ratio(v.Measured), ShareErr: ratio(v.ShareErr),
			Allowance: ratio(v.Allowance), Margin: ratio(v.Margin), Confidence: ratio(v.Confidence), OK: v.OK, Undetermined: v.Undetermined,
			Rule: VerdictRule, Note: v.Reason, Resolve: v.Resolve,
		}
	}
	return d
}

// WriteJSON writes a's document, indented, followed by a newline. The
// windows list goes out through a small buffer as it is formatted: at
// 1 GB of trace it is megabytes, and one buffer that size costs more
// (fresh pages, the GC) than formatting it. A value JSON cannot carry
// (NaN, ±Inf) is an error before anything is written.
func WriteJSON(w io.Writer, a *Analysis) error {
	return writeJSON(w, a.Doc())
}

// writeJSON writes d as encoding/json's Encoder with SetIndent("", "  ")
// and no HTML escaping writes it. The windows list, which grows with the
// trace (30k at 1 GB), is written by writeWindows: encoding/json would
// spend longer on it than the engine on the rest of the tail.
func writeJSON(w io.Writer, d *Doc) error {
	// Everything that can fail to encode fails here, before a byte is
	// written: the windows' floats, and their kinds (encoded once each).
	kinds := map[string][]byte{}
	for i := range d.Windows {
		x := &d.Windows[i]
		for _, f := range [...]float64{x.StartSeconds, x.EndSeconds, x.DurationSeconds} {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("encoding analysis: window %d: unsupported value: %s", i, strconv.FormatFloat(f, 'g', -1, 64))
			}
		}
		if _, ok := kinds[x.Kind]; !ok {
			var kb bytes.Buffer
			enc := json.NewEncoder(&kb)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(x.Kind); err != nil {
				return fmt.Errorf("encoding analysis: window %d: %w", i, err)
			}
			kinds[x.Kind] = bytes.TrimSuffix(kb.Bytes(), []byte("\n"))
		}
	}
	ws := d.Windows
	head := *d
	head.Windows = nil // "windows": null, replaced below
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&head); err != nil {
		return fmt.Errorf("encoding analysis: %w", err)
	}
	const key = "\n  \"windows\": " // a top-level key: indented by two
	i := bytes.Index(buf.Bytes(), []byte(key+"null"))
	if i < 0 {
		return fmt.Errorf("encoding analysis: no windows field in the document")
	}
	i += len(key)
	_, err := w.Write(buf.Bytes()[:i])
	if err == nil {
		err = writeWindows(w, ws, kinds)
	}
	if err == nil {
		_, err = w.Write(buf.Bytes()[i+len("null"):])
	}
	if err != nil {
		return fmt.Errorf("writing analysis: %w", err)
	}
	return nil
}

// writeWindows writes ws as the value of the top-level "windows" key, in
// pieces of about 32 KiB. The floats must be finite; kinds holds each
// kind's JSON string.
func writeWindows(w io.Writer, ws []JSONWindow, kinds map[string][]byte) error {
	if ws == nil {
		_, err := io.WriteString(w, "null")
		return err
	}
	if len(ws) == 0 {
		_, err := io.WriteString(w, "[]")
		return err
	}
	const piece = 32 << 10
	b := make([]byte, 0, piece+1024)
	b = append(b, '[')
	for i := range ws {
		x := &ws[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\n      \"start_seconds\": "...)
		b = appendJSONFloat(b, x.StartSeconds)
		b = append(b, ",\n      \"end_seconds\": "...)
		b = appendJSONFloat(b, x.EndSeconds)
		b = append(b, ",\n      \"duration_seconds\": "...)
		b = appendJSONFloat(b, x.DurationSeconds)
		b = append(b, ",\n      \"kind\": "...)
		b = append(b, kinds[x.Kind]...)
		b = append(b, ",\n      \"in_flight\": "...)
		b = strconv.AppendInt(b, int64(x.InFlight), 10)
		if x.Open {
			b = append(b, ",\n      \"open\": true"...)
		}
		b = append(b, "\n    }"...)
		if len(b) >= piece {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, "\n  ]"...)
	_, err := w.Write(b)
	return err
}

// appendJSONFloat appends f, finite, as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// "e-09" to "e-9", as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// longest returns up to n windows, longest first (ties: earliest first).
func longest(ws []gaps.Window, n int) []gaps.Window {
	c := append([]gaps.Window(nil), ws...)
	sort.SliceStable(c, func(i, j int) bool { return c[i].Duration() > c[j].Duration() })
	if len(c) > n {
		c = c[:n]
	}
	return c
}
