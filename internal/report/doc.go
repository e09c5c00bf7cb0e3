// Package report turns an engine Snapshot into the analysis gpuwatch shows
// offline: a document built once (Build) and rendered as text for people
// (WriteText, in the manner of `perf sched` summaries) or as JSON for
// programs (WriteJSON, schema gpuwatch.analysis/v1).
//
// The JSON types (Doc, JSONTimeslice, JSONWindow, ...) are exported so that
// live views (`gpuwatch watch --json`) print the same shapes.
//
// All times are seconds on the trace's own clock (the clock printed in the
// trace-cmd report), exact to the nanosecond; ratios are rounded to 1e-6.
//
// Verdict (--expect SHARE): PASS, FAIL or UNDETERMINED on the measured
// share (gaps.ShareEstimate) and its interval, with a world-switch
// allowance when the schedule is known; UNDETERMINED whenever the trace
// cannot resolve the share. docs/verdict.md gives the rule whole.
package report
