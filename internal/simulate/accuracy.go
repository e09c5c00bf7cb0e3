package simulate

import (
	"bytes"
	"fmt"
	"math"
	"sort"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

// Issue 3's targets.
const (
	TargetSliceErr  = 1.0  // percent
	TargetPeriodErr = 1.0  // percent
	TargetShareErr  = 0.5  // percentage points
	TargetF1        = 0.98 // window F1, saturating and frame-paced loads
	// TargetLowConfidence: with long jobs only or too few windows an
	// estimate must be undetected or below this confidence, unless right.
	TargetLowConfidence = 0.5
	// ConfidentAbove splits the "confidence tracks error" comparison.
	ConfidentAbove = 0.8
)

// Result is how well an engine Snapshot matches the truth of one run.
type Result struct {
	Scenario string `json:"scenario"`
	Class    string `json:"class"`
	Policy   Policy `json:"policy"`
	Format   string `json:"format"` // "4.16 us", "6.17 ns"

	Detected   bool      `json:"detected"`
	Confidence float64   `json:"confidence"`
	Mode       gaps.Mode `json:"mode"`
	ModeOK     bool      `json:"mode_ok"`
	VFs        int       `json:"vfs"`
	TrueVFs    int       `json:"true_vfs"`
	VFsOK      bool      `json:"vfs_ok"`
	Reason     string    `json:"reason,omitempty"`

	// Errors against the truth; NaN when the estimate or the truth has
	// no such number (undetected, passthrough).
	SliceErr  float64 `json:"slice_err_pct"`  // |est-true|/true, percent
	PeriodErr float64 `json:"period_err_pct"` // percent
	ShareErr  float64 `json:"share_err_pp"`   // |est-true|, percentage points

	// Windows: true switched-out windows the guest could see (busy, not a
	// self switch, wholly inside the trace, work outstanding for at least
	// half of the window: from TrueWindow.BusyFrom), detected switched_out
	// windows (closed), and how many of each matched: a detected window
	// matches a true one when they overlap by at least half of the
	// shorter of the two.
	TrueWindows int     `json:"true_windows"`
	DetWindows  int     `json:"detected_windows"`
	MatchedTrue int     `json:"matched_true"`
	MatchedDet  int     `json:"matched_detected"`
	Precision   float64 `json:"precision"`
	Recall      float64 `json:"recall"`
	F1          float64 `json:"f1"`
	// FalseInIdle counts detected switched_out windows lying (half or
	// more) inside guest-idle spans, or any at all under passthrough.
	FalseInIdle int `json:"false_in_idle"`

	// Warnings are the report reader's warnings on the simulated text
	// (a writer/reader mismatch when not zero).
	Warnings int `json:"warnings"`
}

// ConfidentWrong: detected with confidence ≥ TargetLowConfidence and a
// slice, period or share outside the targets.
func (r Result) ConfidentWrong() bool {
	if !r.Detected || r.Confidence < TargetLowConfidence {
		return false
	}
	if r.Policy == None {
		return true
	}
	return !(r.SliceErr <= TargetSliceErr && r.PeriodErr <= TargetPeriodErr && r.ShareErr <= TargetShareErr)
}

// NumbersOK: slice, period and share within the targets.
func (r Result) NumbersOK() bool {
	return r.Detected && r.SliceErr <= TargetSliceErr && r.PeriodErr <= TargetPeriodErr && r.ShareErr <= TargetShareErr
}

// TargetMet reports whether the run meets issue 3's target for its class:
// saturating and frame-paced: numbers within the targets and F1 ≥ 0.98;
// long: never a confident wrong number; passthrough: nothing detected; all
// classes: no switched-out window inside guest idle.
func (r Result) TargetMet() bool {
	if r.FalseInIdle > 0 {
		return false
	}
	switch r.Class {
	case "saturating", "frame-paced":
		return r.NumbersOK() && r.F1 >= TargetF1
	case "long", "bursts":
		return !r.ConfidentWrong()
	case "passthrough":
		return !r.Detected
	}
	return true
}

// Score compares an engine snapshot with the truth of the run it analysed.
func Score(tr *Truth, s *gaps.Snapshot) Result {
	ts := s.Timeslice
	r := Result{
		Scenario:   tr.Scenario,
		Policy:     tr.Policy,
		Detected:   ts.Detected,
		Confidence: ts.Confidence,
		Mode:       ts.Mode,
		VFs:        ts.VFs,
		TrueVFs:    tr.VFs,
		Reason:     ts.Reason,
		SliceErr:   math.NaN(),
		PeriodErr:  math.NaN(),
		ShareErr:   math.NaN(),
	}
	switch tr.Policy {
	case Strict:
		r.ModeOK = ts.Detected && ts.Mode == gaps.ModeFixed
	case Skip:
		r.ModeOK = ts.Detected && ts.Mode == gaps.ModeVariable
	case None:
		r.ModeOK = !ts.Detected || ts.Mode == gaps.ModeNone
	}
	r.VFsOK = ts.VFs == tr.VFs || (tr.Policy == None && !ts.Detected)
	if ts.Detected && tr.Policy != None && tr.Slice > 0 && tr.Period > 0 {
		r.SliceErr = 100 * math.Abs(ts.Slice.Seconds()-tr.Slice) / tr.Slice
		r.PeriodErr = 100 * math.Abs(ts.Period.Seconds()-tr.Period) / tr.Period
		r.ShareErr = 100 * math.Abs(ts.ScheduleShare-tr.Share)
	}
	scoreWindows(&r, tr, s.Windows)
	return r
}

type nsSpan struct{ a, b int64 }

func overlap(x, y nsSpan) int64 { return max(0, min(x.b, y.b)-max(x.a, y.a)) }

func scoreWindows(r *Result, tr *Truth, ws []gaps.Window) {
	start, end := nsOf(tr.Start), nsOf(tr.End)
	var seen, self []nsSpan
	for _, w := range tr.Windows {
		sp := nsSpan{nsOf(w.Start), nsOf(w.End)}
		if sp.a < start || sp.b > end {
			continue // crosses the trace's edge: neutral
		}
		switch {
		case w.Seen() && 2*(sp.b-nsOf(w.BusyFrom)) >= sp.b-sp.a:
			seen = append(seen, sp)
		case w.Seen() || w.Self:
			// a self switch (no neighbour ran), or a window whose work
			// arrived in its second half (the guest sees less than half
			// of it): a detection matching it is not wrong, a miss is not
			// counted
			self = append(self, sp)
		}
	}
	var det []nsSpan
	for _, w := range ws {
		if w.Kind == gaps.SwitchedOut && !w.Open {
			det = append(det, nsSpan{w.Start, w.End})
		}
	}
	idle := make([]nsSpan, 0, len(tr.Idle))
	for _, sp := range tr.Idle {
		idle = append(idle, nsSpan{nsOf(sp.Start), nsOf(sp.End)})
	}
	matches := func(d, t nsSpan) bool {
		return 2*overlap(d, t) >= min(d.b-d.a, t.b-t.a) && overlap(d, t) > 0
	}
	// every list is in time order: sweep. A detection matching no seen
	// window is neutral (neither right nor wrong) when it overlaps a window
	// the guest could not fully see (a self switch, work arriving late in
	// the window) or lies within 1 ms of the trace's edges (the truth lists
	// only windows wholly inside the trace); otherwise it is false.
	matchedTrue := make([]bool, len(seen))
	j, k, m := 0, 0, 0
	neutral := 0
	for _, d := range det {
		for j < len(seen) && seen[j].b <= d.a {
			j++
		}
		hit := false
		for x := j; x < len(seen) && seen[x].a < d.b; x++ {
			if matches(d, seen[x]) {
				hit = true
				matchedTrue[x] = true
			}
		}
		if hit {
			r.MatchedDet++
		} else {
			// a window the guest could not see, or at the trace's edge:
			// neither right nor wrong
			for k < len(self) && self[k].b <= d.a {
				k++
			}
			if k < len(self) && overlap(d, self[k]) > 0 || d.a < start+1e6 || d.b > end-1e6 {
				neutral++
			}
		}
		if tr.Policy == None {
			r.FalseInIdle++
			continue
		}
		for m < len(idle) && idle[m].b <= d.a {
			m++
		}
		var in int64
		for x := m; x < len(idle) && idle[x].a < d.b; x++ {
			in += overlap(d, idle[x])
		}
		if 2*in >= d.b-d.a {
			r.FalseInIdle++
		}
	}
	for _, ok := range matchedTrue {
		if ok {
			r.MatchedTrue++
		}
	}
	r.TrueWindows = len(seen)
	r.DetWindows = len(det) - neutral
	r.Precision, r.Recall = 1, 1
	if r.DetWindows > 0 {
		r.Precision = float64(r.MatchedDet) / float64(r.DetWindows)
	}
	if r.TrueWindows > 0 {
		r.Recall = float64(r.MatchedTrue) / float64(r.TrueWindows)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
}

// Evaluate runs sc end to end as a user's trace would go: simulate, write
// `trace-cmd report` text in sc's format (in memory), read it back with
// tracefs.TextReader, analyse it with a fresh gaps engine, and score the
// snapshot against the truth.
func Evaluate(sc Scenario) (Result, error) {
	var buf bytes.Buffer
	tr, err := WriteReport(&buf, sc, "", nil)
	if err != nil {
		return Result{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	rd := tracefs.NewTextReader(bytes.NewReader(buf.Bytes()), sc.Name+".report")
	eng := gaps.New(gaps.Config{})
	if err := event.Drain(rd, eng.Feed); err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", sc.Name, err)
	}
	res := Score(&tr, eng.Snapshot())
	res.Scenario = sc.Name
	res.Class = Class(sc)
	res.Format = FormatName(sc.Gen, sc.Nanoseconds)
	res.Warnings = len(rd.Warnings())
	return res, nil
}

// FormatName is "4.16 us", "6.17 ns", ...
func FormatName(g tracefs.Generation, ns bool) string {
	if ns {
		return g.String() + " ns"
	}
	return g.String() + " us"
}

// ClassSummary aggregates a class's results.
type ClassSummary struct {
	Class     string  `json:"class"`
	N         int     `json:"n"`
	Met       int     `json:"target_met"` // runs meeting their class's target
	Detected  int     `json:"detected"`
	NumbersOK int     `json:"numbers_ok"`        // slice, period and share within target
	F1OK      int     `json:"f1_ok"`             // F1 ≥ TargetF1
	MaxSlice  float64 `json:"max_slice_err_pct"` // worst slice error among detected
	MaxPeriod float64 `json:"max_period_err_pct"`
	MaxShare  float64 `json:"max_share_err_pp"`
	MinF1     float64 `json:"min_f1"`
	FalseIdle int     `json:"false_in_idle"`   // switched-out windows inside guest idle, total
	Confident int     `json:"confident_wrong"` // confident wrong numbers
}

// Summarize groups results by class, in Classes order (empty classes left out).
func Summarize(rs []Result) []ClassSummary {
	by := map[string]*ClassSummary{}
	for _, r := range rs {
		c := by[r.Class]
		if c == nil {
			c = &ClassSummary{Class: r.Class, MinF1: 1}
			by[r.Class] = c
		}
		c.N++
		if r.TargetMet() {
			c.Met++
		}
		if r.Detected {
			c.Detected++
		}
		if r.NumbersOK() {
			c.NumbersOK++
		}
		if r.F1 >= TargetF1 {
			c.F1OK++
		}
		c.MinF1 = math.Min(c.MinF1, r.F1)
		if !math.IsNaN(r.SliceErr) {
			c.MaxSlice = math.Max(c.MaxSlice, r.SliceErr)
			c.MaxPeriod = math.Max(c.MaxPeriod, r.PeriodErr)
			c.MaxShare = math.Max(c.MaxShare, r.ShareErr)
		}
		c.FalseIdle += r.FalseInIdle
		if r.ConfidentWrong() {
			c.Confident++
		}
	}
	var out []ClassSummary
	for _, name := range Classes() {
		if c := by[name]; c != nil {
			out = append(out, *c)
			delete(by, name)
		}
	}
	rest := make([]string, 0, len(by))
	for k := range by {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, *by[k])
	}
	return out
}

// ConfidenceTracking compares the mean share error (pp) of detected
// time-sliced runs with confidence ≥ ConfidentAbove against those below;
// n counts each side. Confidence tracks error when hiMean ≤ loMean (or
// one side is empty).
func ConfidenceTracking(rs []Result) (hiMean float64, hiN int, loMean float64, loN int) {
	for _, r := range rs {
		if !r.Detected || math.IsNaN(r.ShareErr) {
			continue
		}
		if r.Confidence >= ConfidentAbove {
			hiMean += r.ShareErr
			hiN++
		} else {
			loMean += r.ShareErr
			loN++
		}
	}
	if hiN > 0 {
		hiMean /= float64(hiN)
	}
	if loN > 0 {
		loMean /= float64(loN)
	}
	return
}

// nsOf converts trace seconds to the engine's nanoseconds.
func nsOf(s float64) int64 { return int64(math.Round(s * 1e9)) }
