package simulate

import "time"

// Truth is what really happened in a simulated run, as our VF (VF 0) lived
// it. Times are trace-clock seconds (the clock of the emitted events),
// durations seconds. It marshals to the JSON written next to simulated
// traces.
type Truth struct {
	Scenario string `json:"scenario,omitempty"`
	Policy   Policy `json:"policy"`
	VFs      int    `json:"vfs"`
	// Workload is the first ring's workload; Rings the rings' names.
	Workload string   `json:"workload"`
	Rings    []string `json:"rings"`
	Seed     uint64   `json:"seed"`
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
