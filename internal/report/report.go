package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// InputStats describes what the source read, beyond what the engine counts.
type InputStats struct {
	File   string // file name as given ("-" or "<stdin>" for standard input)
	Format string // "trace-cmd report", "trace.dat", ...
	// Lines read (text input); 0 when unknown.
	Lines uint64
	// Events decoded by the source; 0 means "use the engine's count".
	Events uint64
	// Lost events reported by the source ([LOST N EVENTS] markers); 0 means
	// "use the engine's count".
	Lost uint64
	// Unknown lines: trace lines of events gpuwatch does not follow.
	Unknown uint64
	// Malformed lines: lines that look like trace lines but do not parse.
	Malformed uint64
	// Warnings is the number of warnings the source reported.
	Warnings uint64
}

// Expectation is the share a tenant was promised (--expect).
type Expectation struct {
	Share float64 // in (0,1]
	Text  string  // as the user wrote it, e.g. "1/2"
}

// ParseExpectation reads a share written as a fraction ("1/2"), a ratio
// ("0.5") or a percentage ("50%").
func ParseExpectation(s string) (*Expectation, error) {
	t := strings.TrimSpace(s)
	var v float64
	var err error
	switch {
	case strings.HasSuffix(t, "%"):
		v, err = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
		v /= 100
	case strings.Contains(t, "/"):
		num, den, _ := strings.Cut(t, "/")
		var n, d float64
		n, err = strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err == nil {
			d, err = strconv.ParseFloat(strings.TrimSpace(den), 64)
		}
		if err == nil && d == 0 {
			err = fmt.Errorf("zero denominator")
		}
		if err == nil {
			v = n / d
		}
	default:
		v, err = strconv.ParseFloat(t, 64)
	}
	if err != nil || !(v > 0 && v <= 1) {
		return nil, fmt.Errorf("invalid share %q: want a fraction (1/2), a ratio in (0,1] (0.5) or a percentage (50%%)", s)
	}
	return &Expectation{Share: v, Text: t}, nil
}

// Outcome is a verdict's result.
type Outcome string

const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	// Undetermined: the trace cannot tell (Reason says why, Resolve what
	// would tell). It exits 1, as a failure does: gpuwatch never passes
	// on an assumption.
	Undetermined Outcome = "undetermined"
)

// Verdict compares the measured share with an Expectation (see doc.go
// for the rule).
type Verdict struct {
	Outcome  Outcome
	Expected float64
	// Measured is the measured share (gaps.ShareEstimate), ShareErr one
	// standard error; both 0 when Undetermined for want of a share.
	Measured, ShareErr float64
	// Allowance is the part of the expectation excused as world-switch
	// overhead: Expected·VFs·SwitchCost/Period, when the schedule is
	// known with confidence and its switch cost is one a world switch
	// can have (≤ maxWorldSwitch); else 0.
	Allowance float64
	// Margin is Measured + 2·ShareErr − (Expected − Allowance): negative
	// fails (when determined).
	Margin float64
	// Confidence is the schedule's confidence (0 when none was inferred).
	Confidence float64
	// Reason says in words why the verdict is what it is (one line);
	// Resolve, for Undetermined, what would resolve it.
	Reason, Resolve string
	// OK: the verdict passed. Undetermined: Outcome is Undetermined.
	OK, Undetermined bool
}

// Analysis is everything a report shows.
type Analysis struct {
	Input    InputStats
	Snapshot *gaps.Snapshot
	Expect   *Expectation // nil without --expect
	Verdict  *Verdict     // nil without --expect
}

// Build assembles the analysis of s. exp may be nil.
func Build(s *gaps.Snapshot, in InputStats, exp *Expectation) *Analysis {
	if s == nil {
		s = &gaps.Snapshot{}
	}
	if in.Events == 0 {
		in.Events = s.Input.Events
	}
	if in.Lost == 0 {
		in.Lost = s.Input.Lost
	}
	a := &Analysis{Input: in, Snapshot: s, Expect: exp}
	if exp != nil {
		a.Verdict = verdict(s, exp)
	}
	return a
}

// maxWorldSwitch bounds the per-turn overhead the verdict excuses as a
// world switch (saving and restoring a VF's GPU state: ~0.2 ms on an
// S7150, see shared/seeds).
const maxWorldSwitch = 300 * time.Microsecond

// maxSwitchFrac bounds the world-switch overhead as a fraction of the
// expectation when the schedule is unknown: a shortfall within it could
// be world switches (0.3 ms against the shortest 6 ms MxGPU slice), so it
// neither passes nor fails.
const maxSwitchFrac = 0.05

// maxPassWidth: a PASS whose interval (±2 standard errors) holds the
// expectation must be no wider than this, or it would pass on the
// benefit of a doubt: 0.5 pp, the share accuracy gpuwatch is held to.
const maxPassWidth = 0.005

// explainTol: a schedule explains the measured share when they agree
// within their errors and this much (0.5 pp, the share accuracy
// gpuwatch is held to).
const explainTol = 0.005

// minVerdictConfidence: below it the schedule excuses nothing.
const minVerdictConfidence = 0.5

// saturatedFrac: a guest with work outstanding for less of the span than
// this is not saturating; its measured share undercounts what the host
// gives (work arriving in an off-time waits for the next turn).
const saturatedFrac = 0.9

func verdict(s *gaps.Snapshot, exp *Expectation) *Verdict {
	v := &Verdict{Outcome: Undetermined, Undetermined: true, Expected: exp.Share}
	ts := &s.Timeslice
	sh := &s.Share
	if ts.Detected {
		v.Confidence = ts.Confidence
	}
	if !sh.Resolved {
		v.Reason = sh.Reason
		if v.Reason == "" {
			v.Reason = "no completed GPU job: the share cannot be measured"
		}
		if !strings.Contains(v.Reason, "record") {
			v.Resolve = "record a longer trace while a workload of short jobs (well under a slice) runs"
		}
		return v
	}
	v.Measured, v.ShareErr = sh.Ratio, sh.Err
	known := ts.Detected && ts.Confidence >= minVerdictConfidence
	// The schedule excuses world switches only when it explains what the
	// VF got: its share and the measured one agree (a schedule fitted to
	// a host it does not describe would excuse any shortfall).
	explains := math.Abs(v.Measured-ts.ScheduleShare) <= 2*math.Hypot(v.ShareErr, ts.ScheduleShareErr)+explainTol
	// schedAllowance is what the schedule's own switches cost the VF.
	schedAllowance := 0.0
	if known && ts.VFs > 0 && ts.SwitchCost > 0 && ts.SwitchCost <= maxWorldSwitch && ts.Period > 0 {
		schedAllowance = exp.Share * float64(ts.VFs) * float64(ts.SwitchCost) / float64(ts.Period)
	}
	if explains {
		v.Allowance = schedAllowance
	}
	hi := v.Measured + 2*v.ShareErr
	v.Margin = hi - (exp.Share - v.Allowance)
	switch {
	case v.Margin >= 0 && 2*v.ShareErr > maxPassWidth && v.Measured-2*v.ShareErr < exp.Share-v.Allowance:
		// The expectation lies inside an interval too wide to tell.
		v.Reason = fmt.Sprintf("the share is known only to ±%.1f pp, and %s lies within it", 200*v.ShareErr, pctf1(exp.Share-v.Allowance))
		v.Resolve = "a longer trace narrows it (half a turn at each end of the span weighs less)"
		return v
	case v.Margin >= 0:
		v.Outcome, v.OK, v.Undetermined = Pass, true, false
		switch {
		case sh.Passthrough:
			v.Reason = "no switch-out seen: the VF held the GPU whenever it had work"
		case hi < exp.Share:
			v.Reason = fmt.Sprintf("%.1f pp short of %s: world-switch overhead (%d VFs, %s a switch)",
				100*(exp.Share-v.Measured), pctf1(exp.Share), ts.VFs, ts.SwitchCost.Round(10*time.Microsecond))
		}
		return v
	case !ts.Detected || ts.Confidence < minVerdictConfidence:
		if hi >= exp.Share*(1-maxSwitchFrac) {
			v.Reason = fmt.Sprintf("%.1f pp short, which world switches could explain, but the schedule is not known with confidence",
				100*(exp.Share-v.Measured))
			v.Resolve = "a longer trace of a saturating workload measures the schedule"
			return v
		}
	}
	busyFrac := 0.0
	if span := s.End - s.Start; span > 0 {
		busyFrac = float64(sh.Busy) / float64(span)
	}
	if ts.Detected && len(s.Long) == 0 && busyFrac < saturatedFrac &&
		ts.ScheduleShare+2*ts.ScheduleShareErr >= exp.Share-schedAllowance {
		v.Reason = fmt.Sprintf("your work waited for your turn (busy %.0f%% of the time): the schedule gives %s of every %s (%s)",
			100*busyFrac, ts.Slice.Round(10*time.Microsecond), ts.Period.Round(10*time.Microsecond), pctf1(ts.ScheduleShare))
		v.Resolve = "a saturating workload (always a job waiting) measures the share itself"
		return v
	}
	v.Outcome, v.OK, v.Undetermined = Fail, false, false
	v.Reason = ShareGap(s)
	if v.Reason == "" {
		v.Reason = fmt.Sprintf("%.1f pp below %s", 100*(exp.Share-v.Measured), pctf1(exp.Share))
	}
	return v
}

// ShareGap says, in one line, why the measured share falls short of or
// exceeds the schedule's when they differ by more than their errors
// (outages, starvation, idle neighbours); "" when they agree or no
// schedule is known.
func ShareGap(s *gaps.Snapshot) string {
	ts := &s.Timeslice
	if len(s.Long) > 0 {
		var sum time.Duration
		for _, w := range s.Long {
			sum += w.Duration()
		}
		w := s.Long[0]
		for _, x := range s.Long {
			if x.Duration() > w.Duration() {
				w = x
			}
		}
		line := fmt.Sprintf("no GPU progress for %s from %.1f s with %d jobs waiting", durWords(w.Duration()), Seconds(w.Start), w.InFlight)
		if len(s.Long) > 1 {
			line += fmt.Sprintf(" (%d such windows, %s in all)", len(s.Long), durWords(sum))
		}
		return line
	}
	if !ts.Detected || !s.Share.Resolved {
		return ""
	}
	d := s.Share.Ratio - ts.ScheduleShare
	tol := 2 * math.Hypot(s.Share.Err, ts.ScheduleShareErr)
	switch {
	case d < -tol:
		return fmt.Sprintf("measured %s against the schedule's %s: work also waited outside the schedule's off-times", pctf1(s.Share.Ratio), pctf1(ts.ScheduleShare))
	case d > tol && ts.Mode == gaps.ModeVariable:
		// The schedule's period already counts skipped neighbours, its
		// turn whole quanta, and the measured share the switches straight
		// back it implies: the excess is turns extended in place beyond
		// what the schedule saw.
		return fmt.Sprintf("measured %s against the schedule's %s: turns extended while neighbours idled", pctf1(s.Share.Ratio), pctf1(ts.ScheduleShare))
	case d > tol:
		return fmt.Sprintf("measured %s against the schedule's %s: the host gave you more than its round robin", pctf1(s.Share.Ratio), pctf1(ts.ScheduleShare))
	}
	return ""
}

// durWords prints d for a sentence: "5.00 s", "12.4 ms".
func durWords(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}

func pctf1(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

// Failed reports whether the analysis fails its verdict.
func (a *Analysis) Failed() bool { return a.Verdict != nil && !a.Verdict.OK }
