// Package tuitest generates the event streams the TUI's tests show: a
// time-sliced host (one VF's turns of Slice every Period) and a guest that
// keeps each of its rings saturated, two jobs in flight, jobs progressing
// only while the VF holds the GPU. It is a small, deterministic stand-in
// for the simulator, enough to give the views realistic snapshots.
package tuitest

import (
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Ring is one saturated ring of the guest.
type Ring struct {
	Name string
	Job  time.Duration // mean job duration (±20 % uniform jitter)
	Comm string        // submitting task
	PID  int32
}

// Scenario is a host schedule and a guest load.
type Scenario struct {
	// Slice every Period the VF holds the GPU; Period 0: passthrough.
	Slice, Period time.Duration
	// Start is the trace time of the first turn (ns); Duration the length.
	Start    int64
	Duration time.Duration
	Rings    []Ring
	Seed     uint64
}

// Half is the seed's case: a FirePro S7150 split in two, 6 ms slices every
// 12.4 ms, a gfx ring and an sdma ring busy.
func Half(d time.Duration) Scenario {
	return Scenario{
		Slice: 6 * time.Millisecond, Period: 12400 * time.Microsecond,
		Start: 1437_800_000_000, Duration: d, Seed: 1,
		Rings: []Ring{
			{Name: "gfx", Job: 250 * time.Microsecond, Comm: "glmark2", PID: 2412},
			{Name: "sdma0", Job: 600 * time.Microsecond, Comm: "Xorg", PID: 981},
		},
	}
}

// active reports whether the VF holds the GPU at t.
func (sc Scenario) active(t int64) bool {
	if sc.Period <= 0 {
		return true
	}
	return (t-sc.Start)%int64(sc.Period) < int64(sc.Slice)
}

// finish returns when work ns of GPU time started at t are done.
func (sc Scenario) finish(t, work int64) int64 {
	if sc.Period <= 0 {
		return t + work
	}
	p, s := int64(sc.Period), int64(sc.Slice)
	for {
		ph := (t - sc.Start) % p
		if ph >= s { // switched out: wait for the next turn
			t += p - ph
			continue
		}
		if left := s - ph; work <= left {
			return t + work
		} else {
			work -= left
			t += left
		}
	}
}

// Events returns the scenario's events in time order (queue, run and done
// of every job, 4.16–6.16 event names).
func (sc Scenario) Events() []event.Event {
	rng := rand.New(rand.NewPCG(sc.Seed, 42))
	end := sc.Start + int64(sc.Duration)
	var evs []event.Event
	var fence uint64 = 0xffff9a0000001000
	for ri, r := range sc.Rings {
		var done []int64 // completion times
		for i := 0; ; i++ {
			submit := sc.Start + int64(ri)*1000
			if i >= 2 {
				submit = done[i-2] + 2000
			}
			if submit >= end {
				break
			}
			start := submit + 1000
			if i >= 1 && done[i-1] > start {
				start = done[i-1]
			}
			work := int64(float64(r.Job) * (0.8 + 0.4*rng.Float64()))
			fin := sc.finish(start, work)
			done = append(done, fin)
			fence += 0x100
			key := event.JobKey{Fence: fence}
			base := event.Event{CPU: int32(ri), PID: r.PID, Comm: r.Comm, Ring: r.Name, Job: key, ID: uint64(i + 1), JobCount: 0, HWJobCount: 1}
			q := base
			q.Time, q.Kind, q.Name = submit, event.KindQueue, "gpu_scheduler:drm_sched_job"
			run := base
			run.Time, run.Kind, run.Name, run.HWJobCount = submit+1000, event.KindRun, "gpu_scheduler:drm_run_job", 2
			evs = append(evs, q, run)
			if fin < end {
				d := event.Event{Time: fin, CPU: int32(ri), Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: key, JobCount: -1, HWJobCount: -1}
				evs = append(evs, d)
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })
	return evs
}

// Snapshot feeds the scenario's events to an engine with a 10 s horizon
// and returns its snapshot at the end (advanced to end, when later).
func (sc Scenario) Snapshot(end int64) *gaps.Snapshot {
	e := gaps.New(gaps.Config{Horizon: 10 * time.Second})
	for _, ev := range sc.Events() {
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
		return event.Event{}, errEOF
	}
	s.i++
	return s.Evs[s.i-1], nil
}

var errEOF = io.EOF
