package accuracy

import (
	"math"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
)

// The targets (issues 3, 17 and 18).
const (
	TargetSliceErr  = 1.0  // percent
	TargetPeriodErr = 1.0  // percent
	TargetShareErr  = 0.5  // percentage points
	TargetF1        = 0.98 // window F1
	// TargetOutageShareErr: on outage and starvation runs the measured
	// share is within 2 pp of the held share.
	TargetOutageShareErr = 2.0
	// TargetLowConfidence: where the data cannot resolve a number, the
	// estimate must be undetected or below this confidence, unless right.
	TargetLowConfidence = 0.5
	// ConfidentAbove splits the "confidence tracks error" comparison.
	ConfidentAbove = 0.8
	// TargetCoverage: the truth lies within estimate ± 2·error in at
	// least this fraction of detected runs.
	TargetCoverage = 0.95
	// MaxFixedJitter: fixed and liquid classes are held to the number
	// targets up to this per-switch jitter (seconds).
	MaxFixedJitter = 100e-6
	// PassMargin: the verdict is tried with an expectation this far (a
	// ratio) above the true held share plus the world-switch allowance.
	PassMargin = 0.01
	// FailMargin is how far below the held share an expectation must
	// pass when jobs are short against the slice (8 pp).
	FailMargin = 0.08
)

// Cover is whether the truth lies within an estimate ± 2·error.
type Cover struct {
	// Applicable: the estimate and the truth both have the number.
	Applicable bool `json:"applicable"`
	Within     bool `json:"within"`
}

func cover(est, err, truth float64) Cover {
	if math.IsNaN(est) || math.IsNaN(truth) || math.IsNaN(err) {
		return Cover{}
	}
	return Cover{Applicable: true, Within: math.Abs(est-truth) <= 2*err+1e-12}
}

// Result is how well an engine Snapshot matches the truth of one run.
type Result struct {
	Scenario string          `json:"scenario"`
	Class    string          `json:"class"`
	Policy   simulate.Policy `json:"policy"`
	Format   string          `json:"format"` // "4.16 us", "6.17 ns"
	// Jitter is the scenario's per-switch jitter, seconds.
	Jitter float64 `json:"jitter"`

	Detected   bool      `json:"detected"`
	Confidence float64   `json:"confidence"`
	Mode       gaps.Mode `json:"mode"`
	ModeOK     bool      `json:"mode_ok"`
	VFs        int       `json:"vfs"`
	TrueVFs    int       `json:"true_vfs"`
	VFsOK      bool      `json:"vfs_ok"`
	Reason     string    `json:"reason,omitempty"`

	// HeldShare is the truth's held share; Share and ShareSE the
	// estimator's measured share and its standard error (NaN when it has
	// none).
	HeldShare float64 `json:"held_share"`
	Share     float64 `json:"share"`
	ShareSE   float64 `json:"share_se"`

	// Errors against the truth; NaN when the estimate or the truth has
	// no such number (undetected, passthrough).
	SliceErr  float64 `json:"slice_err_pct"`  // |est-true|/true, percent
	PeriodErr float64 `json:"period_err_pct"` // percent
	// ShareErr is |measured share − HeldShare|, percentage points.
	ShareErr float64 `json:"share_err_pp"`
	// ScheduleShareErr is |slice/period − Truth.Share|, percentage points.
	ScheduleShareErr float64 `json:"schedule_share_err_pp"`

	// Coverage of the estimator's intervals: the truth within
	// estimate ± 2·error, for the measured share, slice and period.
	ShareCover  Cover `json:"share_cover"`
	SliceCover  Cover `json:"slice_cover"`
	PeriodCover Cover `json:"period_cover"`

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
	// FalseInSteal counts detected switched_out windows that overlap a
	// vCPU steal episode and match no true switch-out.
	FalseInSteal int `json:"false_in_steal"`

	// PassExpect is an expectation just above what the VF truly got
	// (HeldShare + the world-switch allowance + PassMargin; 0 when that
	// exceeds 1); PassAbove: analyze's verdict passes it (wrongly).
	PassExpect float64 `json:"pass_expect"`
	PassAbove  bool    `json:"pass_above"`
	// FailBelow: with jobs shorter than a quarter of the slice, analyze's
	// verdict does not pass an expectation FailMargin below the held
	// share (it should: the share is resolved far above it).
	FailBelow bool `json:"fail_below"`

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
	if r.Policy == simulate.None {
		return true
	}
	return !r.NumbersOK()
}

// NumbersOK: slice, period and measured share within the targets.
func (r Result) NumbersOK() bool {
	return r.Detected && r.SliceErr <= TargetSliceErr && r.PeriodErr <= TargetPeriodErr && r.ShareErr <= TargetShareErr
}

// fixedClass: classes held to the number targets (a schedule the data
// resolves: saturating or frame-paced guests on fixed or liquid hosts).
func fixedClass(c string) bool {
	switch c {
	case "saturating", "frame-paced", "drift", "deadline-jitter", "fairness", "liquid", "steal":
		return true
	}
	return false
}

// TargetMet reports whether the run meets its class's target:
//   - every class: no switched-out window inside guest idle or a steal
//     episode;
//   - fixed classes (saturating, frame-paced, drift, deadline-jitter,
//     fairness, liquid, steal) with per-switch jitter ≤ 100 µs: slice and
//     period within 1 %, measured share within 0.5 pp, window F1 ≥ 0.98;
//     above 100 µs: never a confident wrong number;
//   - bursts: never a confident wrong number;
//   - long, outage, starvation: the verdict never passes an expectation
//     above the true share (plus the world-switch allowance), and never a
//     confident wrong number; outage and starvation: the measured share
//     within 2 pp of the held share;
//   - passthrough: nothing detected.
func (r Result) TargetMet() bool {
	// Every class: no switch-out claimed in idle or steal, no verdict
	// passing above the held share, none failing 8 pp below it when jobs
	// are short.
	if r.FalseInIdle > 0 || r.FalseInSteal > 0 || r.PassAbove || r.FailBelow {
		return false
	}
	switch {
	case fixedClass(r.Class):
		if r.Jitter > MaxFixedJitter+1e-12 {
			return !r.ConfidentWrong()
		}
		return r.NumbersOK() && r.F1 >= TargetF1
	case r.Class == "bursts":
		return !r.ConfidentWrong()
	case r.Class == "long":
		return !r.PassAbove && !r.ConfidentWrong()
	case r.Class == "outage" || r.Class == "starvation":
		return !r.PassAbove && r.ShareErr <= TargetOutageShareErr
	case r.Class == "passthrough":
		return !r.Detected
	}
	return true
}

// Allowance is the share a VF loses to world switches on the truth's
// host: slice/(period − VFs·switch cost) − slice/period (0 for
// passthrough). On a round robin whose switches cost more than nominal
// (polling steps) or whose slots jitter, the realized mean period stands
// for the nominal one: the switches took that much.
func Allowance(tr *simulate.Truth) float64 {
	if tr.Policy == simulate.None || tr.NominalPeriod <= 0 || len(tr.Slices) == 0 {
		return 0
	}
	sched := tr.NominalPeriod - float64(tr.VFs)*tr.SwitchCost
	if sched <= tr.Slices[0] {
		return 0
	}
	period := tr.NominalPeriod
	if (tr.Policy == simulate.Strict || tr.Policy == simulate.Fairness) && len(tr.Outages) == 0 && tr.Period > period {
		period = tr.Period
	}
	return max(0, tr.Slices[0]/sched-tr.Slices[0]/period)
}

// Score compares an engine snapshot with the truth of the run it analysed.
func Score(tr *simulate.Truth, s *gaps.Snapshot) Result {
	ts := s.Timeslice
	nan := math.NaN()
	r := Result{
		Scenario:         tr.Scenario,
		Policy:           tr.Policy,
		Jitter:           tr.Jitter,
		Detected:         ts.Detected,
		Confidence:       ts.Confidence,
		Mode:             ts.Mode,
		VFs:              ts.VFs,
		TrueVFs:          tr.VFs,
		Reason:           ts.Reason,
		HeldShare:        tr.HeldShare,
		Share:            nan,
		ShareSE:          nan,
		SliceErr:         nan,
		PeriodErr:        nan,
		ShareErr:         nan,
		ScheduleShareErr: nan,
	}
	switch tr.Policy {
	case simulate.Strict, simulate.Fairness:
		r.ModeOK = ts.Detected && ts.Mode == gaps.ModeFixed
	case simulate.Skip, simulate.Liquid:
		r.ModeOK = ts.Detected && ts.Mode == gaps.ModeVariable
	case simulate.None:
		r.ModeOK = !ts.Detected || ts.Mode == gaps.ModeNone
	}
	r.VFsOK = ts.VFs == tr.VFs || (tr.Policy == simulate.None && !ts.Detected)
	if tr.Policy == simulate.Liquid && tr.BusyVFs > 0 {
		// a liquid host: the most VFs seen busy in one round
		r.TrueVFs = tr.BusyVFs
		r.VFsOK = ts.VFs == tr.BusyVFs
	}
	if m, se, ok := measuredShare(s); ok {
		r.Share, r.ShareSE = m, se
		if tr.BusyTime > 0 {
			r.ShareErr = 100 * math.Abs(m-tr.HeldShare)
			r.ShareCover = cover(m, se, tr.HeldShare)
		}
	}
	if ts.Detected && tr.Policy != simulate.None && tr.Slice > 0 && tr.Period > 0 {
		slice, period, share := tr.Slice, tr.Period, tr.Share
		if tr.Quantum > 0 {
			slice = tr.Quantum // a liquid host's slice is its quantum
		}
		if tr.JitterMode == simulate.Deadline && tr.NominalPeriod > 0 {
			// Deadlines keep the period exact: the realized mean only
			// adds the first and last turns' jitter.
			period = tr.NominalPeriod
		}
		if len(tr.Outages) > 0 && tr.NominalPeriod > 0 && len(tr.Slices) > 0 {
			// The schedule is what the round robin gives while it runs:
			// an outage is no turn of it (the measured share counts it).
			slice, period = tr.Slices[0], tr.NominalPeriod
			share = slice / period
		}
		r.SliceErr = 100 * math.Abs(ts.Slice.Seconds()-slice) / slice
		r.PeriodErr = 100 * math.Abs(ts.Period.Seconds()-period) / period
		r.SliceCover = cover(ts.Slice.Seconds(), ts.SliceErr.Seconds(), slice)
		r.PeriodCover = cover(ts.Period.Seconds(), ts.PeriodErr.Seconds(), period)
		if sh, _, ok := scheduleShare(s); ok {
			r.ScheduleShareErr = 100 * math.Abs(sh-share)
		}
	}
	if x := tr.HeldShare - FailMargin; tr.BusyTime > 0 && x > 0 && tr.Job > 0 && len(tr.Slices) > 0 && tr.Job < tr.Slices[0]/4 {
		r.FailBelow = !passes(s, x)
	}
	if x := tr.HeldShare + Allowance(tr) + PassMargin; tr.BusyTime > 0 && x <= 1 {
		r.PassExpect = x
		r.PassAbove = passes(s, x)
	}
	scoreWindows(&r, tr, s.Windows)
	return r
}

type nsSpan struct{ a, b int64 }

func overlap(x, y nsSpan) int64 { return max(0, min(x.b, y.b)-max(x.a, y.a)) }

func spans(ss []simulate.Span) []nsSpan {
	out := make([]nsSpan, 0, len(ss))
	for _, sp := range ss {
		out = append(out, nsSpan{nsOf(sp.Start), nsOf(sp.End)})
	}
	return out
}

func scoreWindows(r *Result, tr *simulate.Truth, ws []gaps.Window) {
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
		if w.Kind == gaps.SwitchedOut && !w.Open && !isSteal(w) {
			det = append(det, nsSpan{w.Start, w.End})
		}
	}
	idle := spans(tr.Idle)
	steal := spans(tr.Steal)
	matches := func(d, t nsSpan) bool {
		return 2*overlap(d, t) >= min(d.b-d.a, t.b-t.a) && overlap(d, t) > 0
	}
	// every list is in time order: sweep. A detection matching no seen
	// window is neutral (neither right nor wrong) when it overlaps a window
	// the guest could not fully see (a self switch, work arriving late in
	// the window) or lies within 1 ms of the trace's edges (the truth lists
	// only windows wholly inside the trace); otherwise it is false.
	matchedTrue := make([]bool, len(seen))
	j, k, m, n := 0, 0, 0, 0
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
			for k < len(self) && self[k].b <= d.a {
				k++
			}
			if k < len(self) && overlap(d, self[k]) > 0 || d.a < start+1e6 || d.b > end-1e6 {
				neutral++
			}
			for n < len(steal) && steal[n].b <= d.a {
				n++
			}
			if n < len(steal) && overlap(d, steal[n]) > 0 {
				r.FalseInSteal++
			}
		}
		if tr.Policy == simulate.None {
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

// nsOf converts trace seconds to the engine's nanoseconds.
func nsOf(s float64) int64 { return int64(math.Round(s * 1e9)) }
