// Package tuitest gives the TUI's tests (and the replay and watch tests)
// their events: the seed's case, a FirePro S7150 split in two, simulated
// by internal/simulate, with helpers to find where the truth puts our VF's
// turns and to feed an engine.
package tuitest

import (
	"io"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Half is the seed's case for d of trace: two VFs with 6 ms slices and
// 200 µs world switches (a 12.4 ms period, strict round robin), the guest
// keeping a gfx ring (glmark2, 250 µs jobs) and an sdma0 ring (Xorg,
// 600 µs jobs) saturated with two jobs each, traced on a 4.16–6.16
// kernel with two CPUs (nanosecond times), from 1437.8 s of uptime.
func Half(d time.Duration) simulate.Scenario {
	ring := func(name, comm string, pid int32, job time.Duration) simulate.Ring {
		return simulate.Ring{Name: name, Comm: comm, PID: pid, Job: simulate.Dist{Kind: simulate.Uniform, Mean: job},
			Workload: simulate.Workload{Kind: simulate.Saturate, Depth: 2}}
	}
	return simulate.Scenario{
		Name: "half", VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Strict, Duration: d, Start: 1437_800 * time.Millisecond, Seed: 1,
		Gen: tracepoint.GenDRM, Nanoseconds: true, CPUs: 2,
		Rings: []simulate.Ring{
			ring("gfx", "glmark2", 2412, 250*time.Microsecond),
			ring("sdma0", "Xorg", 981, 600*time.Microsecond),
		},
	}
}

// Events returns sc's events as a reader of its trace gets them
// (simulate.Events) and its truth; it fails tb on error.
func Events(tb testing.TB, sc simulate.Scenario) ([]event.Event, simulate.Truth) {
	tb.Helper()
	evs, tr, err := simulate.Events(sc)
	if err != nil {
		tb.Fatal(err)
	}
	return evs, tr
}

// ns is a truth time (seconds) on the trace clock (ns).
func ns(s float64) int64 { return int64(s*1e9 + 0.5) }

// IntoWindow is d into the last of tr's switched-out windows that starts
// by t (trace clock, ns), or -1 when none does.
func IntoWindow(tr *simulate.Truth, t int64, d time.Duration) int64 {
	at := int64(-1)
	for _, w := range tr.Windows {
		if s := ns(w.Start); s <= t {
			at = s + int64(d)
		}
	}
	return at
}

// Active reports whether our VF held the GPU at t (trace clock, ns) by
// tr: t lies in no switched-out window.
func Active(tr *simulate.Truth, t int64) bool {
	for _, w := range tr.Windows {
		if ns(w.Start) <= t && t < ns(w.End) {
			return false
		}
	}
	return true
}

// Snapshot feeds the events to an engine with a 10 s horizon up to end
// and returns its snapshot there (advanced to end, when later; end 0: all
// the events, and the snapshot at the last).
func Snapshot(evs []event.Event, end int64) *gaps.Snapshot {
	e := gaps.New(gaps.Config{Horizon: 10 * time.Second})
	for _, ev := range evs {
		if end > 0 && ev.Time > end {
			break
		}
		e.Feed(ev)
	}
	if end > 0 {
		e.Advance(end)
	}
	return e.Snapshot()
}

// Slice is an event.Source over a slice of events.
type Slice struct {
	Evs []event.Event
	i   int
}

// Next implements event.Source.
func (s *Slice) Next() (event.Event, error) {
	if s.i >= len(s.Evs) {
		return event.Event{}, io.EOF
	}
	s.i++
	return s.Evs[s.i-1], nil
}
