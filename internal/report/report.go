package report

import (
	"fmt"
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

// Verdict compares the measured share with an Expectation.
type Verdict struct {
	Expected float64
	Measured float64 // the share, 1 for a passthrough-like trace
	ShareErr float64 // one standard error of Measured
	// Margin is Measured + 2·ShareErr − Expected: negative fails.
	Margin float64
	OK     bool
	// Scheduled is the share of the GPU's scheduled time, world switches
	// excluded (Slice / (Period − VFs·SwitchCost)), when VFs and the switch
	// cost are known; 0 otherwise. ScheduledErr is its standard error.
	Scheduled, ScheduledErr float64
	// Undetermined: the share could not be measured (no completed job, or
	// work waited unserved in windows that form no schedule).
	Undetermined bool
	Note         string
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

// completedJobs is the number of completions the engine saw.
func completedJobs(s *gaps.Snapshot) uint64 {
	n := s.Input.Unmatched
	for _, r := range s.Rings {
		n += r.Jobs
	}
	return n
}

// maxWorldSwitch bounds the per-turn overhead the verdict excuses as a
// world switch (saving and restoring a VF's GPU state: ~0.2 ms on an
// S7150, see shared/seeds).
const maxWorldSwitch = 300 * time.Microsecond

func verdict(s *gaps.Snapshot, exp *Expectation) *Verdict {
	v := &Verdict{Expected: exp.Share}
	ts := &s.Timeslice
	switch {
	case ts.Detected:
		v.Measured, v.ShareErr = ts.Share, ts.ShareErr
		// World switches are time no VF gets: a fair 1/2 host gives each
		// VF slice/(2·slice + 2·switch) of the wall time, a little under
		// 1/2. When the VFs and the switch cost are known, the share of
		// the GPU's scheduled time (switches excluded) is the one to hold
		// against a "1/N of the GPU" promise.
		//
		// The switch cost is inferred as Period/VFs − Slice, so any
		// shortfall would look like switch cost: only a cost a world
		// switch can plausibly have (maxWorldSwitch) is excluded; a larger
		// one (a neighbour with a longer slice) counts against the share.
		if ts.VFs > 0 && ts.SwitchCost > 0 && ts.SwitchCost <= maxWorldSwitch {
			sched := ts.Period - time.Duration(ts.VFs)*ts.SwitchCost
			if sched > 0 && sched > ts.Slice {
				v.Scheduled = float64(ts.Slice) / float64(sched)
				v.ScheduledErr = ts.ShareErr * float64(ts.Period) / float64(sched)
			}
		}
	case completedJobs(s) == 0:
		v.Undetermined = true
		v.Note = "no completed GPU job in the trace: the share cannot be measured"
		return v
	case s.SwitchedOutTotal > 0 || s.StallTotal > 0:
		// Work went unserved, but no schedule could be measured: that is
		// not passthrough, and the share cannot be confirmed.
		v.Undetermined = true
		v.Note = fmt.Sprintf("work waited unserved for %s (switched out %s, stalls %s) but the windows form no measurable schedule (%s): the share cannot be confirmed",
			(s.SwitchedOutTotal + s.StallTotal).Round(time.Microsecond), s.SwitchedOutTotal.Round(time.Microsecond), s.StallTotal.Round(time.Microsecond), ts.Reason)
		return v
	default:
		v.Measured = 1
		v.Note = "no time slicing detected and no work ever waited unserved: the VF behaves like passthrough (share taken as 1)"
	}
	v.Margin = v.Measured + 2*v.ShareErr - v.Expected
	v.OK = v.Margin >= 0
	if !v.OK && v.Scheduled > 0 {
		if m := v.Scheduled + 2*v.ScheduledErr - v.Expected; m >= 0 {
			v.OK, v.Margin = true, m
			v.Note = fmt.Sprintf("the wall-time share is below the expectation only by the world-switch overhead: %s of the GPU's scheduled time (%d VFs, %s switch per turn excluded)",
				pctf(v.Scheduled), ts.VFs, ts.SwitchCost.Round(time.Microsecond))
		}
	}
	return v
}

func pctf(r float64) string { return fmt.Sprintf("%.2f%%", 100*r) }

// Failed reports whether the analysis fails its verdict.
func (a *Analysis) Failed() bool { return a.Verdict != nil && !a.Verdict.OK }
