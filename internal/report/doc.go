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
// Verdict rule (--expect SHARE): the measured share passes unless it is
// below the expectation beyond its uncertainty, that is it FAILS when
//
//	share + 2·share_err < expected
//
// When no time slicing is detected but the guest did make progress, the VF
// behaves like passthrough: the measured share is taken as 1 and the
// verdict passes with a note saying so. When the trace holds no completed
// job at all the share cannot be measured: the verdict fails (undetermined).
package report
