package exporter

import "time"

// Snapshot is one guest's measurements at one moment: what the exporter
// renders. Totals count since the watch started; Recent covers the sliding
// horizon. A program other than gpuwatch fills it from its own data.
type Snapshot struct {
	// Span is the trace time analysed.
	Span time.Duration
	// Overall is the estimate over the whole run, Recent over the horizon.
	Overall, Recent Estimate
	// SwitchedOut, GuestIdle and Stall are the time spent in no-progress
	// windows of each kind since start: switched out (work outstanding,
	// nothing completing, on the host's schedule), guest idle (nothing
	// outstanding) and stall (work outstanding, no schedule fits).
	SwitchedOut, GuestIdle, Stall time.Duration
	// Windows counts no-progress windows of every kind since start.
	Windows uint64
	// LongestRecentSwitchOut is the longest window with work outstanding
	// and nothing completing (switched out or stall, an open one included)
	// among the recent windows; 0 when there is none.
	LongestRecentSwitchOut time.Duration
	// Threshold is the no-progress duration above which a stretch counts
	// as a window (0 until the gaps show two clusters).
	Threshold time.Duration
	// Rings holds the per-ring statistics, in the order to render them.
	Rings []Ring
	// Gaps is the histogram of gaps between completions while work was
	// outstanding.
	Gaps Histogram
	// Events counts events read per tracepoint ("system:event").
	Events map[string]uint64
	// Lost is the number of events the source reported lost.
	Lost uint64
}

// Estimate is the share and the schedule inferred over one span.
type Estimate struct {
	// ShareKnown is false when the data cannot resolve the measured share
	// (the verdict would be undetermined): the share series are then left
	// out rather than exported as a number nobody should trust.
	ShareKnown bool
	// Share is the measured share: the fraction of the time the guest had
	// work outstanding during which the VF held the GPU. ShareErr is one
	// standard error.
	Share, ShareErr float64
	// Detected is true when a time-slice schedule is detected; the
	// schedule fields below are exported only then.
	Detected bool
	// ScheduleShare is Slice/Period: the share the host's round robin
	// gives while it runs; ScheduleShareErr one standard error.
	ScheduleShare, ScheduleShareErr float64
	// Slice is how long the VF holds the GPU each turn; Period is the
	// time from one turn to the next.
	Slice, Period time.Duration
	// Turn is the mean time the VF holds the GPU per turn: Slice, or on
	// a liquid host (turns of whole quanta) more. PeriodSpread is the
	// standard deviation of the turn-to-turn times when measured
	// (variable mode; 0 otherwise).
	Turn, PeriodSpread time.Duration
	// VFs is the inferred number of VFs sharing the GPU (0 unknown).
	VFs int
	// Mode is the inferred host scheduler mode ("fixed", "variable", ...).
	Mode string
	// Confidence in the schedule, 0 to 1.
	Confidence float64
}

// Ring is one GPU ring's statistics.
type Ring struct {
	Name string
	// Jobs completed.
	Jobs uint64
	// Busy is the time with work outstanding; Stalled the part of it
	// spent in switched-out (or stall) windows.
	Busy, Stalled time.Duration
	// InFlight is the number of jobs outstanding now.
	InFlight int
	// LatencyP50 and LatencyP99 are job latency quantiles, submission to
	// completion.
	LatencyP50, LatencyP99 time.Duration
	// Processes breaks the ring down by submitting task.
	Processes []Process
}

// Process is one submitting task's share of a ring.
type Process struct {
	Comm string
	PID  int32
	// Jobs completed.
	Jobs uint64
	// Busy is the time with this task's jobs outstanding; Stalled the part
	// of it spent in switched-out windows.
	Busy, Stalled time.Duration
}

// Histogram is a histogram of durations.
type Histogram struct {
	// Bounds are the buckets' inclusive upper bounds, increasing; Counts
	// has one count per bound and may have one more for everything above.
	Bounds []time.Duration
	Counts []uint64
	Sum    time.Duration
	Count  uint64
}
