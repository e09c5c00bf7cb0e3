package report

import (
	"fmt"
	"strconv"
	"strings"

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
	// Undetermined: no completed job, the share could not be measured.
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

func verdict(s *gaps.Snapshot, exp *Expectation) *Verdict {
	v := &Verdict{Expected: exp.Share}
	ts := &s.Timeslice
	switch {
	case ts.Detected:
		v.Measured, v.ShareErr = ts.Share, ts.ShareErr
	case completedJobs(s) == 0:
		v.Undetermined = true
		v.Note = "no completed GPU job in the trace: the share cannot be measured"
		return v
	default:
		v.Measured = 1
		v.Note = "no time slicing detected: the VF behaves like passthrough (share taken as 1)"
	}
	v.Margin = v.Measured + 2*v.ShareErr - v.Expected
	v.OK = v.Margin >= 0
	return v
}

// Failed reports whether the analysis fails its verdict.
func (a *Analysis) Failed() bool { return a.Verdict != nil && !a.Verdict.OK }
