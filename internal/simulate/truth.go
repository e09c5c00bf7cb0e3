package simulate

import (
	"math"
	"time"
)

// Truth is what really happened in a simulated run, as our VF (VF 0) lived
// it. Times are trace-clock seconds (the clock of the emitted events),
// durations seconds. It marshals to the JSON written next to simulated
// traces.
type Truth struct {
	Scenario string `json:"scenario,omitempty"`
	Policy   Policy `json:"policy"`
	VFs      int    `json:"vfs"`
	// Workload is the first ring's workload; Rings the rings' names.
	Workload string `json:"workload"`
	// Job is the first ring's mean job duration, seconds.
	Job   float64  `json:"job,omitempty"`
	Rings []string `json:"rings"`
	Seed  uint64   `json:"seed"`
	// Start and End bound the trace (events lie in [Start, End]).
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Slices are the configured slices, ours first (empty for passthrough).
	Slices []float64 `json:"slices"`
	// Slice is the mean length of our turns that start inside the trace.
	Slice float64 `json:"slice"`
	// Period is the mean time from one of our turns' start to the next
	// over the trace (the nominal period for strict, less for skip);
	// NominalPeriod is Σ(slice + switch cost) over every VF.
	Period        float64 `json:"period"`
	NominalPeriod float64 `json:"nominal_period"`
	// Share is the fraction of wall time our VF holds the GPU over whole
	// periods: active time from the first in-trace turn's start to the
	// last one's, over that span (≈ Slice/Period; 1 for passthrough).
	Share      float64 `json:"share"`
	SwitchCost float64 `json:"switch_cost"`
	Jitter     float64 `json:"jitter"`
	// Turns is the number of our turns that start inside the trace.
	Turns int `json:"turns"`
	// Windows are all switched-out windows of our VF lying inside the
	// trace, in time order.
	Windows []TrueWindow `json:"windows"`
	// Idle are the spans (≥ 100 µs) in which the guest had no job
	// outstanding (queued and not done) on any ring, clipped to the trace.
	Idle []Span `json:"idle"`
	// Jobs queued inside the trace; Events emitted (KindLost markers
	// excluded); Lost events dropped behind KindLost markers.
	Jobs   uint64 `json:"jobs"`
	Events uint64 `json:"events"`
	Lost   uint64 `json:"lost"`
	// BusyTime is how long (seconds) the guest had work outstanding (a job
	// queued and its completion not yet signalled, on any ring) inside
	// the trace.
	BusyTime float64 `json:"busy_time"`
	// HeldShare is the fraction of BusyTime during which our VF held the GPU
	// (inside one of its turns): what the tenant got while it wanted the
	// GPU, exact from the simulator's state (1 for passthrough, 0 when
	// the guest never had work). Outages and starvation lower it; idle
	// neighbours on a skipping or liquid host raise it above Share.
	HeldShare float64 `json:"held_share"`
	// PeriodStd is the standard deviation (seconds) of the time from one
	// of our turns' start to the next, over the trace (Period is their
	// mean): about zero on a lattice, the turn-to-turn spread on a liquid
	// or skipping host.
	PeriodStd float64 `json:"period_std"`
	// JitterMode is "accumulate" or "deadline" (empty without jitter);
	// SwitchStep the switch-completion polling step (seconds, 0: none).
	JitterMode JitterMode `json:"jitter_mode,omitempty"`
	SwitchStep float64    `json:"switch_step,omitempty"`
	// Quantum (liquid) is our VF's quantum, seconds: each on-time is a
	// whole multiple of it (± the per-switch jitter).
	Quantum float64 `json:"quantum,omitempty"`
	// BusyVFs is the most VFs (ours included) that held the GPU in one
	// round of the host's schedule starting in the trace: VFs on a strict
	// or fairness host, fewer when a skipping or liquid host's neighbours
	// stay idle.
	BusyVFs int `json:"busy_vfs,omitempty"`
	// Steal are the episodes (clipped to the trace) in which the guest
	// vCPU taking the GPU interrupt was descheduled: completions inside
	// one are signalled together just after it ends.
	Steal []Span `json:"steal,omitempty"`
	// Outages are the spans (clipped to the trace) in which our VF was
	// given no turn, by kind ("outage", "starve").
	Outages []OutageSpan `json:"outages,omitempty"`
}

// OutageSpan is an outage or starvation span in the truth.
type OutageSpan struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Kind  string  `json:"kind"`
}

// TrueWindow is one switched-out window of our VF.
type TrueWindow struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Busy: the guest had a job outstanding at some point of the window
	// (outstanding at its start, or queued inside it). Only busy windows
	// can be seen from the guest.
	Busy bool `json:"busy"`
	// BusyFrom, for a busy window, is when work was first outstanding in
	// it (Start, or the first submission inside it); nothing completes in
	// a window, so work stays outstanding from BusyFrom to End, and a
	// guest can see at most [BusyFrom, End] of it.
	BusyFrom float64 `json:"busy_from,omitempty"`
	// Self (skip policy): every neighbour was idle, so the window is only
	// the world switch back to our VF; not a switch-out to another VF.
	Self bool `json:"self,omitempty"`
}

// Span is a stretch of trace time, seconds.
type Span struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

func dur(s float64) time.Duration { return time.Duration(s*1e9 + 0.5) }

// SliceDuration is Slice as a Duration.
func (t *Truth) SliceDuration() time.Duration { return dur(t.Slice) }

// PeriodDuration is Period as a Duration.
func (t *Truth) PeriodDuration() time.Duration { return dur(t.Period) }

// OnTimes are the lengths (seconds) of our complete turns inside the
// trace: from one switched-out window's end to the next one's start.
func (t *Truth) OnTimes() []float64 {
	var out []float64
	for i := 1; i < len(t.Windows); i++ {
		out = append(out, t.Windows[i].Start-t.Windows[i-1].End)
	}
	return out
}

// LatticeDeviation is, for each of our turns that starts after a window
// inside the trace, its distance (seconds) from the nearest point of the
// lattice that the first such start and NominalPeriod span: bounded by the
// jitter on a deadline host, a random walk on an accumulating one.
func (t *Truth) LatticeDeviation() []float64 {
	if len(t.Windows) == 0 || t.NominalPeriod <= 0 {
		return nil
	}
	var dev []float64
	t0 := t.Windows[0].End
	for _, w := range t.Windows {
		k := math.Round((w.End - t0) / t.NominalPeriod)
		dev = append(dev, w.End-t0-k*t.NominalPeriod)
	}
	return dev
}

// Seen reports whether w is a switch-out the guest can observe: busy and
// not a self switch.
func (w TrueWindow) Seen() bool { return w.Busy && !w.Self }

// Visible is how long the guest could see w as a switch-out: the part
// with work outstanding, End-BusyFrom (0 when w is not busy or is a self
// switch). A busy window whose work arrived just before its end looks,
// from the guest, like ordinary submission latency.
func (w TrueWindow) Visible() float64 {
	if !w.Busy || w.Self {
		return 0
	}
	return w.End - w.BusyFrom
}
