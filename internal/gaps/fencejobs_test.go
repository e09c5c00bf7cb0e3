package gaps

import (
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

func amdgpuEv(t int64, kind event.Kind, ctx, seq uint64) event.Event {
	name := "amdgpu:amdgpu_cs_ioctl"
	if kind == event.KindRun {
		name = "amdgpu:amdgpu_sched_run_job"
	}
	return event.Event{Time: t, Kind: kind, Name: name, Ring: "gfx", Comm: "app", PID: 7, Job: event.JobKey{Context: ctx, Seqno: seq}}
}

func fenceEv(t int64, driver string, ctx, seq uint64) event.Event {
	return event.Event{Time: t, Kind: event.KindDone, Name: "dma_fence:dma_fence_signaled", Ring: "gfx", Driver: driver, Job: event.JobKey{Context: ctx, Seqno: seq}}
}

// The rules of fencejobs.go, one event at a time.
func TestFenceJobs(t *testing.T) {
	const ms = int64(1_000_000)
	evs := []event.Event{
		amdgpuEv(1*ms, event.KindQueue, 11, 1),
		amdgpuEv(2*ms, event.KindRun, 11, 1),
		fenceEv(2*ms, "amd_sched", 10, 1), // scheduled fence after run_job: nothing more
		amdgpuEv(3*ms, event.KindQueue, 11, 2),
		fenceEv(4*ms, "drm_sched", 10, 2),  // scheduled fence alone: job 2 runs
		fenceEv(5*ms, "amdgpu", 11, 1),     // a hardware fence with the same numbers ends nothing
		fenceEv(6*ms, "amd_sched", 11, 1),  // finished: job 1 done
		fenceEv(7*ms, "amd_sched", 11, 0),  // finished fence of a job queued before the trace
		fenceEv(8*ms, "amd_sched", 99, 5),  // an entity never seen
		fenceEv(9*ms, "i915", 3, 1),        // another driver
		fenceEv(10*ms, "drm_sched", 11, 2), // job 2 done
	}
	e := New(Config{})
	for _, ev := range evs {
		e.Feed(ev)
	}
	s := e.Snapshot()
	if len(s.Rings) != 1 || s.Rings[0].Jobs != 3 || s.Rings[0].InFlight != 0 {
		t.Fatalf("rings %+v, want gfx with 3 jobs (2 matched, 1 unmatched), none in flight", s.Rings)
	}
	in := s.Input
	if in.Unmatched != 1 || in.FencesOther != 2 || in.FencesUnmatched != 1 || in.Duplicate != 0 || in.Implied != 0 {
		t.Errorf("input %+v", in)
	}
	// Job 2 ran from its scheduled fence at 4 ms: its latency is 6 ms
	// (from its queueing it would be 7).
	if p := s.Rings[0].LatencyP99; p < 5*time.Millisecond || p >= 7*time.Millisecond {
		t.Errorf("p99 latency %v, want job 2's 6 ms", p)
	}
}

// Once the scheduler's own events appear, they describe the jobs: the
// amdgpu job followed so far is dropped and later amdgpu events and
// scheduler fences are duplicates; each job counts once.
func TestFenceJobsMixed(t *testing.T) {
	const ms = int64(1_000_000)
	sched := func(t int64, kind event.Kind, name string, fence uint64) event.Event {
		return event.Event{Time: t, Kind: kind, Name: "gpu_scheduler:" + name, Ring: "gfx", Job: event.JobKey{Fence: fence}}
	}
	evs := []event.Event{
		amdgpuEv(1*ms, event.KindQueue, 11, 1),
		sched(1*ms+1, event.KindQueue, "drm_sched_job", 0xa0),
		sched(2*ms, event.KindRun, "drm_run_job", 0xa0),
		amdgpuEv(2*ms+1, event.KindRun, 11, 1),
		fenceEv(2*ms+2, "drm_sched", 10, 1),
		amdgpuEv(3*ms, event.KindQueue, 11, 2),
		sched(3*ms+1, event.KindQueue, "drm_sched_job", 0xb0),
		sched(4*ms, event.KindRun, "drm_run_job", 0xb0),
		sched(5*ms, event.KindDone, "drm_sched_process_job", 0xa0),
		fenceEv(5*ms+1, "drm_sched", 11, 1),
		sched(6*ms, event.KindDone, "drm_sched_process_job", 0xb0),
		fenceEv(6*ms+1, "drm_sched", 11, 2),
	}
	e := New(Config{})
	for _, ev := range evs {
		e.Feed(ev)
	}
	s := e.Snapshot()
	if len(s.Rings) != 1 || s.Rings[0].Jobs != 2 || s.Rings[0].InFlight != 0 || s.Input.Unmatched != 0 {
		t.Fatalf("rings %+v unmatched %d: want 2 jobs on gfx", s.Rings, s.Input.Unmatched)
	}
	// dropped amdgpu job 1; run_job 1; scheduled fence 1; cs_ioctl 2;
	// finished fences 1 and 2
	if s.Input.Duplicate != 6 {
		t.Errorf("%d duplicates, want 6", s.Input.Duplicate)
	}
}

// A KindPartial marker: no window starts before the time it names.
func TestPartialMarker(t *testing.T) {
	var b builder
	var f uint64
	switched(&b, 0, 40, &f)
	ref := b.engine(Config{}).Snapshot()
	if len(ref.Windows) == 0 {
		t.Fatal("the scenario has no window")
	}
	from := ref.Windows[len(ref.Windows)/2].Start + 1
	e := New(Config{})
	e.Feed(event.Event{Time: b.evs[0].Time, Kind: event.KindPartial, Count: uint64(from)})
	for _, ev := range b.evs {
		e.Feed(ev)
	}
	s := e.Snapshot()
	if s.Input.CompleteFrom != from || s.Input.Events != ref.Input.Events {
		t.Fatalf("complete from %d (want %d), %d events (want %d)", s.Input.CompleteFrom, from, s.Input.Events, ref.Input.Events)
	}
	after := 0
	for _, w := range ref.Windows {
		if w.Start >= from {
			after++
		}
	}
	for _, w := range s.Windows {
		if w.Start < from {
			t.Errorf("window %+v starts before %d", w, from)
		}
	}
	if len(s.Windows) == 0 || len(s.Windows) > after {
		t.Errorf("%d windows, want some and at most the %d after the marker", len(s.Windows), after)
	}
}

// A hardware fence emitted before the first amdgpu submission (its job
// queued before the trace) is followed until then, and dropped then: the
// amdgpu and scheduler fence events describe the jobs, and its signal
// ends nothing.
func TestFenceEmitThenAMDGPU(t *testing.T) {
	const ms = int64(1_000_000)
	emit := fenceEv(0, "amdgpu", 9, 500)
	emit.Kind, emit.Name = event.KindEmit, "dma_fence:dma_fence_emit"
	evs := []event.Event{
		emit,
		amdgpuEv(1*ms, event.KindQueue, 11, 1),
		fenceEv(1*ms+500_000, "amdgpu", 9, 500),
		amdgpuEv(2*ms, event.KindRun, 11, 1),
		fenceEv(2*ms, "amd_sched", 10, 1),
		fenceEv(4*ms, "amd_sched", 11, 1),
	}
	e := New(Config{})
	for _, ev := range evs {
		e.Feed(ev)
	}
	s := e.Snapshot()
	if len(s.Rings) != 1 || s.Rings[0].Jobs != 1 || s.Rings[0].InFlight != 0 || s.Input.Duplicate != 1 || s.Input.FencesOther != 1 || s.Input.OutOfOrder != 0 {
		t.Errorf("rings %+v input %+v: want one job, the emitted fence's a duplicate", s.Rings, s.Input)
	}
}
