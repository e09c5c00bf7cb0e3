package accuracy

import (
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/report"
)

// Every field of the engine's snapshot the scorer reads goes through this
// file.

// measuredShare is the estimator's measured share and its standard error;
// ok is false when it resolved none.
func measuredShare(s *gaps.Snapshot) (ratio, err float64, ok bool) {
	return s.Share.Ratio, s.Share.Err, s.Share.Resolved
}

// scheduleShare is the schedule's share (slice/period) and its error.
func scheduleShare(s *gaps.Snapshot) (ratio, err float64, ok bool) {
	ts := &s.Timeslice
	return ts.ScheduleShare, ts.ScheduleShareErr, ts.Detected
}

// isSteal reports whether w is a steal window (completions held back by
// the guest's vCPU being descheduled).
func isSteal(w gaps.Window) bool { return w.Kind == gaps.Steal }

// passes reports whether analyze's verdict on s passes an expectation
// of share x (what `gpuwatch analyze --expect x` exits 0 on).
func passes(s *gaps.Snapshot, x float64) bool {
	a := report.Build(s, report.InputStats{}, &report.Expectation{Share: x})
	return a.Verdict != nil && a.Verdict.Outcome == report.Pass
}
