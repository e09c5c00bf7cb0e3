package accuracy

import (
	"math"
	"sort"
)

// Coverage counts, over a class's detected runs, how often the truth lay
// within estimate ± 2·error.
type Coverage struct {
	N      int `json:"n"`      // runs with the number and its truth
	Within int `json:"within"` // of which the truth lay inside
}

// Ratio is Within/N (NaN when N is 0).
func (c Coverage) Ratio() float64 {
	if c.N == 0 {
		return math.NaN()
	}
	return float64(c.Within) / float64(c.N)
}

func (c *Coverage) add(v Cover) {
	if v.Applicable {
		c.N++
		if v.Within {
			c.Within++
		}
	}
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
	FalseStl  int     `json:"false_in_steal"`  // switched-out windows on steal episodes, total
	Confident int     `json:"confident_wrong"` // confident wrong numbers
	PassAbove int     `json:"pass_above"`      // verdicts passing above the true share
	FailBelow int     `json:"fail_below"`      // verdicts failing 8 pp below it (short jobs)
	// Coverage of share ± 2·err, slice ± 2·err, period ± 2·err.
	ShareCov  Coverage `json:"share_coverage"`
	SliceCov  Coverage `json:"slice_coverage"`
	PeriodCov Coverage `json:"period_coverage"`
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
		}
		if !math.IsNaN(r.ShareErr) {
			c.MaxShare = math.Max(c.MaxShare, r.ShareErr)
		}
		c.FalseIdle += r.FalseInIdle
		c.FalseStl += r.FalseInSteal
		if r.ConfidentWrong() {
			c.Confident++
		}
		if r.FailBelow {
			c.FailBelow++
		}
		if r.PassAbove {
			c.PassAbove++
		}
		c.ShareCov.add(r.ShareCover)
		c.SliceCov.add(r.SliceCover)
		c.PeriodCov.add(r.PeriodCover)
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

// ConfidenceTracking compares the mean slice error (percent) of detected
// time-sliced runs with confidence ≥ ConfidentAbove against those below;
// n counts each side. The confidence grades the schedule (the measured
// share has its own error), so its slice is what it must track:
// confidence tracks error when hiMean ≤ loMean (or one side is empty).
func ConfidenceTracking(rs []Result) (hiMean float64, hiN int, loMean float64, loN int) {
	for _, r := range rs {
		if !r.Detected || math.IsNaN(r.SliceErr) {
			continue
		}
		if r.Confidence >= ConfidentAbove {
			hiMean += r.SliceErr
			hiN++
		} else {
			loMean += r.SliceErr
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
