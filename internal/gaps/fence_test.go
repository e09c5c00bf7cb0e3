package gaps

import (
	"math"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// fenceOnly rewrites a 6.17-style scenario as a trace of dma_fence events
// only (a guest traced with -e dma_fence): the run becomes
// dma_fence_emit, the completion dma_fence_signaled, both keyed by the
// hardware fence's context:seqno with the ring in the timeline name. Every
// few jobs a software fence that was never emitted signals, some of them
// inside switched-out windows: they are not GPU progress.
func fenceOnly(evs []event.Event) []event.Event {
	var out []event.Event
	n := 0
	for _, ev := range evs {
		switch ev.Kind {
		case event.KindRun:
			ev.Kind, ev.Name = event.KindEmit, "dma_fence:dma_fence_emit"
		case event.KindDone:
			ev.Name, ev.Ring = "dma_fence:dma_fence_signaled", "gfx"
		default:
			continue
		}
		ev.Job = event.JobKey{Context: 5, Seqno: ev.Job.Seqno}
		out = append(out, ev)
		if n++; n%7 == 0 {
			out = append(out, event.Event{Time: ev.Time, Kind: event.KindDone, Name: "dma_fence:dma_fence_signaled",
				Ring: "sync_file", Job: event.JobKey{Context: 900, Seqno: uint64(n)}})
		}
	}
	return out
}

func TestDMAFenceOnly(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 3 * time.Second, Seed: 5, Gen617: true}
	evs, tr := sc.run(t)
	// software fences signalling in the middle of every true off-window
	fe := fenceOnly(evs)
	for i, w := range tr.offs {
		fe = append(fe, event.Event{Time: (w[0] + w[1]) / 2, Kind: event.KindDone, Name: "dma_fence:dma_fence_signaled", Ring: "sync_file", Job: event.JobKey{Context: 901, Seqno: uint64(i + 1)}})
	}
	sortEvents(fe)
	s := New(Config{}).feedAll(fe).Snapshot()
	ts := s.Timeslice
	slice, period, share := tr.slice, tr.period, tr.share
	if !ts.Detected || relErr(ts.Slice, slice) > 0.01 || relErr(ts.Period, period) > 0.01 || math.Abs(ts.ScheduleShare-share) > 0.005 {
		t.Fatalf("dma_fence only: %+v, want slice %v period %v", ts, slice, period)
	}
	if f1, _, _ := windowF1(s.Windows, tr); f1 < 0.98 {
		t.Errorf("window F1 %.3f", f1)
	}
	if len(s.Rings) != 1 || s.Rings[0].Name != "gfx" || s.Input.Unmatched != 0 {
		t.Errorf("rings %+v unmatched %d", s.Rings, s.Input.Unmatched)
	}
}

// With the scheduler's events present, dma_fence events of the same jobs
// (hardware fences, another context) must not count the jobs twice nor
// change the windows.
func TestDMAFenceWithScheduler(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 2 * time.Second, Seed: 6, Gen617: true}
	evs, _ := sc.run(t)
	ref := New(Config{}).feedAll(evs).Snapshot()
	both := append(append([]event.Event(nil), evs...), fenceOnly(evs)...)
	sortEvents(both)
	s := New(Config{}).feedAll(both).Snapshot()
	if len(s.Windows) != len(ref.Windows) {
		t.Fatalf("%d windows with dma_fence events, %d without", len(s.Windows), len(ref.Windows))
	}
	for i := range ref.Windows {
		if s.Windows[i] != ref.Windows[i] {
			t.Fatalf("window %d: %+v, want %+v", i, s.Windows[i], ref.Windows[i])
		}
	}
	if s.Rings[0].Jobs != ref.Rings[0].Jobs || s.Input.Unmatched != ref.Input.Unmatched || s.Timeslice != ref.Timeslice {
		t.Errorf("jobs %d/%d unmatched %d/%d ts %+v / %+v", s.Rings[0].Jobs, ref.Rings[0].Jobs, s.Input.Unmatched, ref.Input.Unmatched, s.Timeslice, ref.Timeslice)
	}
}

// Kinds the engine does not know (a newer source) are counted and ignored.
func TestUnknownKindsIgnored(t *testing.T) {
	var b builder
	var f uint64
	switched(&b, 0, 20, &f)
	ref := b.engine(Config{}).Snapshot()
	var mixed []event.Event
	for i, ev := range b.evs {
		mixed = append(mixed, ev)
		if i%3 == 0 {
			mixed = append(mixed, event.Event{Time: ev.Time, Kind: event.Kind(200), Name: "x:y", Ring: "gfx", Job: ev.Job},
				event.Event{Time: ev.Time, Kind: event.KindUnknown, Ring: "gfx", Job: ev.Job},
				event.Event{Time: ev.Time, Kind: event.KindDep, Name: "gpu_scheduler:drm_sched_job_add_dep", Ring: "gfx", Job: ev.Job})
		}
	}
	s := New(Config{}).feedAll(mixed).Snapshot()
	if len(s.Windows) != len(ref.Windows) || s.Timeslice != ref.Timeslice || s.Input.ByName["x:y"] == 0 {
		t.Errorf("unknown kinds changed the result: %d windows vs %d, %+v", len(s.Windows), len(ref.Windows), s.Timeslice)
	}
}
