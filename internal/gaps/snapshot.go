package gaps

import "time"

// This file is the engine's contract with its views (analyze's text and
// JSON reports, the TUI, the exporter, pprof, SVG). Views read Snapshots
// only; a Snapshot is immutable once handed out and shares nothing mutable
// with the engine.

// Mode is the host scheduler's policy as inferred from the guest.
type Mode string

const (
	// ModeNone: no time slicing seen (passthrough, or too little evidence).
	ModeNone Mode = "none"
	// ModeFixed: turns recur on one period whatever the load
	// (AMD MxGPU "solid", strict round robin).
	ModeFixed Mode = "fixed"
	// ModeVariable: the off-time varies with the neighbours' load
	// (AMD "liquid", NVIDIA best effort: idle neighbours are skipped).
	ModeVariable Mode = "variable"
)

// WindowKind tells why the guest saw no progress.
type WindowKind string

const (
	// SwitchedOut: work was outstanding and nothing completed: the VF was
	// switched out (world switch).
	SwitchedOut WindowKind = "switched_out"
	// GuestIdle: nothing was outstanding: the guest had no work.
	GuestIdle WindowKind = "guest_idle"
	// Stall: work was outstanding and nothing completed for clearly longer
	// than the normal spacing, but the stretches do not form a time-slice
	// schedule (a long job, a hang): not claimed as a switch-out.
	Stall WindowKind = "stall"
	// Steal: nothing was delivered, yet the GPU kept going: the window
	// ends with the completions of the jobs that finished meanwhile
	// signalled at once, as when the guest's vCPU taking the GPU
	// interrupt was descheduled by the host (steal time). Not a
	// switch-out: the VF held the GPU.
	Steal WindowKind = "steal"
)

// ShareEstimate is the measured share: of the time the guest had GPU work
// outstanding, the fraction during which the VF held the GPU (see
// share.go). It is what the tenant got over the whole span, outages and
// starvation included; Timeslice.ScheduleShare is what the host's round
// robin gives while it runs.
type ShareEstimate struct {
	// Ratio is the share in [0,1], Err one standard error. Ratio is 1
	// for a trace without switch-outs (Passthrough).
	Ratio, Err float64
	// Resolved: the trace can resolve the share. When false, Reason says
	// why and what would resolve it, and Ratio is at best a bound.
	Resolved    bool
	Passthrough bool
	Reason      string
	// Busy is the time with work outstanding; Unserved the part of it
	// in no-progress windows, less the job straddling each.
	Busy, Unserved time.Duration
	// Windows is the number of no-progress windows counted.
	Windows int
}

// Window is a stretch of trace time without progress.
type Window struct {
	Start, End int64 // trace clock, ns
	Kind       WindowKind
	// InFlight is the number of jobs outstanding (all rings) when the window began.
	InFlight int
	// Open: the window is still going on at the snapshot's End (End is
	// then the snapshot's End).
	Open bool
}

// Duration is End-Start.
func (w Window) Duration() time.Duration { return time.Duration(w.End - w.Start) }

// Timeslice is the inferred host schedule.
type Timeslice struct {
	// Detected is false for passthrough traces and for traces with too
	// little evidence; the other fields are then zero apart from Reason.
	Detected bool
	// Reason explains Detected=false or a low confidence, for people.
	Reason string
	// Slice is how long the VF holds the GPU each turn; Period is turn to
	// turn; ScheduleShare is Slice/Period (the fraction of wall time the
	// schedule gives the VF while it runs; Snapshot.Share is what the VF
	// got). The *Err fields are one standard error.
	Slice, SliceErr                 time.Duration
	Period, PeriodErr               time.Duration
	ScheduleShare, ScheduleShareErr float64
	// Turn is set when turns last several whole multiples of Slice (a
	// liquid host: a VF whose neighbours are idle keeps the GPU for
	// further quanta): Slice is then the quantum, Turn the mean turn and
	// ScheduleShare Turn/Period; TurnErr is its standard error.
	Turn, TurnErr time.Duration
	// PeriodSpread (variable mode) is the standard deviation of the
	// turn-to-turn times; Period is their mean.
	PeriodSpread time.Duration
	// VFs is the inferred number of VFs sharing the GPU (0 when unknown).
	VFs int
	// SwitchCost is the per-turn overhead (world switch): Period/VFs -
	// Slice on a fixed schedule (0 when VFs is unknown), the slot grid's
	// step less Slice on a variable one.
	SwitchCost time.Duration
	Mode       Mode
	// Confidence in [0,1]: how well the evidence supports this schedule.
	Confidence float64
	// Windows is the number of switched-out windows the estimate rests on.
	Windows int
}

// RingStats describes one ring (one drm_sched scheduler).
type RingStats struct {
	Name     string
	Jobs     uint64        // completed jobs
	Busy     time.Duration // time with work outstanding on this ring
	Stalled  time.Duration // part of Busy inside switched-out (or stall) windows
	InFlight int           // outstanding now (queued or running, not done)
	// Job latency, submission (run, else queue) to completion.
	LatencyP50, LatencyP99 time.Duration
	// Processes breaks Jobs down by submitting task, where events name one.
	Processes []ProcessStats
}

// ProcessStats is one submitting task on a ring.
type ProcessStats struct {
	Comm    string
	PID     int32
	Jobs    uint64
	Busy    time.Duration // time with this task's jobs outstanding
	Stalled time.Duration // part of Busy inside switched-out windows
}

// Histogram is a histogram of durations with fixed upper bounds.
type Histogram struct {
	// Bounds are the buckets' inclusive upper bounds, increasing; the
	// last bucket (len(Counts) == len(Bounds)+1) holds everything above.
	Bounds []time.Duration
	Counts []uint64
	Sum    time.Duration
	Count  uint64
}

// Input counts what the engine was fed.
type Input struct {
	Events uint64 // events fed (KindLost markers excluded)
	Lost   uint64 // events the source reported lost
	// ByName counts events per tracepoint ("system:event").
	ByName map[string]uint64
	// Unmatched counts completions with no known submission (queued
	// before the trace began, or the submission was lost); they still
	// count as progress.
	Unmatched uint64
	// Implied counts jobs retired without their completion event because
	// a later job of the same ring completed (the ring runs in order).
	Implied uint64
	// Expired counts jobs dropped after Config.MaxJobAge without completion.
	Expired uint64
	// RingsCapped counts events of rings beyond the engine's ring table
	// (1024 rings), followed under the ring "(other)"; TasksCapped counts
	// jobs of tasks beyond a ring's task table (256), under "(other)".
	RingsCapped, TasksCapped uint64
	// OutOfOrder counts events earlier than their predecessor.
	OutOfOrder uint64
	// Duplicate counts amdgpu job events and scheduler fence signals
	// left out because the capture's gpu_scheduler (gpu_sched) events
	// describe the same jobs: each job counts once.
	Duplicate uint64
	// FencesOther counts dma_fence signals that complete no job:
	// hardware fences (driver amdgpu, a seqno space of their own) and
	// other drivers' fences.
	FencesOther uint64
	// FencesUnmatched counts scheduler fence signals (amd_sched,
	// drm_sched) that match no job seen: a scheduled fence, or a fence
	// of an entity whose jobs the trace does not show.
	FencesUnmatched uint64
	// CompleteFrom is the trace time from which every CPU's events are
	// complete (a KindPartial marker); 0 when the source gave none. No
	// window starts before it.
	CompleteFrom int64
}

// Snapshot is the engine's state at one moment, for views.
type Snapshot struct {
	Input Input
	// Start and End span the events fed (trace clock, ns); End also moves
	// with Engine.Advance.
	Start, End int64
	Rings      []RingStats // sorted by name
	// Timeslice is inferred from the whole run; Recent from the sliding
	// horizon only (equal to Timeslice when the engine has no horizon).
	// Live (with a horizon), the whole-run estimate rests on the latest
	// 32Ki–64Ki windows (minutes of a busy run: state stays bounded);
	// beyond 4096 windows it is redone at most once per second of trace
	// time (Engine.FinalSnapshot always redoes it). The totals below
	// always cover the whole run. Windows can be SwitchedOut while
	// Timeslice.Detected is false: they lie on the host's slot grid but
	// the period could not be measured (Reason says so).
	Timeslice Timeslice
	Recent    Timeslice
	// Share is the measured share over the whole run.
	Share ShareEstimate
	// Windows in time order. Offline (no horizon) all of them; live the
	// ones that end within the horizon.
	Windows []Window
	// Long are the longest no-progress windows with work outstanding
	// (at most 16, time order) lasting LongWindow or more: outages,
	// starvation, hangs, whatever the horizon.
	Long []Window
	// Totals since start, whatever the horizon.
	SwitchedOutTotal time.Duration
	GuestIdleTotal   time.Duration
	StallTotal       time.Duration // Stall windows (no schedule detected)
	StealTotal       time.Duration // Steal windows (of the retained candidates)
	WindowsTotal     uint64        // windows of every kind
	// Threshold is the no-progress duration above which a stretch is a
	// window, derived from the gap histogram (0 until the data shows two
	// clusters; a fallback of several times the normal spacing is then
	// used for stalls and idle windows).
	Threshold time.Duration
	// Gaps is the histogram of gaps between completions while work was
	// outstanding (the switch-out signature), since start.
	Gaps Histogram
}
