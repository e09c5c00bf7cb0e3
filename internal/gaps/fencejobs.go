package gaps

import (
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// Job lifecycles from amdgpu's own events and the GPU scheduler's
// dma_fence signals (docs/inputs.md):
//
//   - amdgpu_cs_ioctl queues a job, keyed by its finished fence
//     (context:seqno); amdgpu_sched_run_job runs it under the same key.
//   - The scheduler gives each job two fences (sched_fence.c:
//     scheduled on the entity's fence_context, finished on
//     fence_context+1, the same seqno), of driver "amd_sched" (≤ 4.15)
//     or "drm_sched" (4.16+). The finished fence's signal ends the job;
//     the scheduled fence's signal (context−1) runs it, where
//     amdgpu_sched_run_job is not traced.
//   - Hardware fences (driver "amdgpu", their own seqno space) and
//     other drivers' fences end no job (FencesOther).
//   - Where the capture also holds the scheduler's own events
//     (gpu_scheduler, gpu_sched), those describe the jobs: amdgpu job
//     events and scheduler fence signals are left out (Duplicate), and
//     the few jobs followed through amdgpu events before the first
//     scheduler event are dropped, so that every job counts once. In
//     the same way jobs followed through dma_fence_emit are dropped at
//     the first scheduler or amdgpu submission.

// nameClass is what the engine does with an event name.
type nameClass uint8

const (
	classOther  nameClass = iota
	classFence            // dma_fence / fence events
	classSched            // the scheduler's own events (gpu_scheduler, gpu_sched)
	classAMDGPU           // amdgpu's job events
)

func classOf(name string) nameClass {
	switch {
	case isFenceEvent(name):
		return classFence
	case strings.HasPrefix(name, "gpu_scheduler:"), strings.HasPrefix(name, "gpu_sched:"):
		return classSched
	case strings.HasPrefix(name, "amdgpu:"):
		return classAMDGPU
	}
	return classOther
}

// fenceJobs is the engine's state for jobs followed through amdgpu and
// dma_fence events.
type fenceJobs struct {
	// schedSys: the scheduler's own events were seen.
	schedSys bool
	// finished holds the finished-fence contexts of the jobs seen: a
	// scheduler fence on one of them ends a job even when its queueing
	// came before the trace (an unmatched completion); bounded.
	finished map[uint64]struct{}
	// completeFrom: events before it may be missing (KindPartial).
	completeFrom int64
}

// maxFinishedContexts bounds fenceJobs.finished (one per entity: a few
// per process using the GPU).
const maxFinishedContexts = 1 << 12

// sourceEvent handles what depends on the source of a queue or run event
// of class classSched or classAMDGPU. It reports whether it handled the
// event: an amdgpu event is submitted here, or left out where its job is
// followed through other events; a scheduler event is left to the caller.
func (e *Engine) sourceEvent(ev *event.Event, class nameClass, t int64) bool {
	fj := &e.fj
	if class == classSched {
		if !fj.schedSys {
			fj.schedSys = true
			e.dropJobs(t, viaAMDGPU)
		}
		return false
	}
	if ev.Job.IsZero() {
		return true // no job named (submit ignores these too)
	}
	if fj.schedSys {
		e.input.Duplicate++
		return true
	}
	if ev.Kind == event.KindRun {
		if rec := e.jobs.ref(ev.Job); rec != nil && rec.via == viaAMDGPU {
			// Run already by its scheduled fence (signalled before
			// amdgpu_sched_run_job is traced).
			if !rec.hasR {
				e.markRun(rec, t)
			}
			return true
		}
	}
	e.schedSeen(t)
	e.submit(ev, t, viaAMDGPU)
	if fj.finished == nil {
		fj.finished = map[uint64]struct{}{}
	}
	if len(fj.finished) < maxFinishedContexts && ev.Job.Fence == 0 {
		fj.finished[ev.Job.Context] = struct{}{}
	}
	return true
}

// fenceSignal handles a dma_fence signal that is not the end of a job
// followed through dma_fence_emit.
func (e *Engine) fenceSignal(ev *event.Event, t int64) {
	switch ev.Driver {
	case "amd_sched", "drm_sched":
	default:
		e.input.FencesOther++
		return
	}
	if e.fj.schedSys {
		e.input.Duplicate++
		return
	}
	if ev.Job.IsZero() {
		e.input.FencesUnmatched++
		return
	}
	i := e.jobs.find(ev.Job)
	if i >= 0 && e.jobs.slots[i].rec.via == viaAMDGPU {
		e.done(ev, i, t) // the finished fence
		return
	}
	sched := ev.Job
	sched.Context++
	if rec := e.jobs.ref(sched); rec != nil && rec.via == viaAMDGPU {
		e.markRun(rec, t) // the scheduled fence
		return
	}
	if _, ok := e.fj.finished[ev.Job.Context]; ok {
		// A finished fence of a known entity whose job was queued
		// before the trace: progress, counted as unmatched. (i is
		// the lookup above: the table has not changed since.)
		e.done(ev, i, t)
		return
	}
	e.input.FencesUnmatched++
}

// markRun records that the followed job rec started running at t.
func (e *Engine) markRun(rec *jobRec, t int64) {
	if rec.hasR {
		return
	}
	rec.hasR, rec.run = true, t
	e.rings[rec.ring].sawRun = true
	if !rec.counted {
		rec.counted, rec.epoch = true, e.epoch
		e.incOut(int(rec.ring), int(rec.proc), t)
	}
}

// schedSeen notes a submission seen through the scheduler's or amdgpu's
// events: from the first one, they describe the jobs, and the jobs
// followed so far through dma_fence_emit (the same jobs' hardware fences)
// are dropped.
func (e *Engine) schedSeen(t int64) {
	if !e.sawSched {
		e.sawSched = true
		e.dropJobs(t, viaFence)
	}
}

// dropJobs forgets the jobs followed through src: other events, from now
// on, describe the same jobs. They count as duplicates.
func (e *Engine) dropJobs(t int64, src via) {
	var keys []event.JobKey
	for i := range e.jobs.slots {
		if s := &e.jobs.slots[i]; s.used && s.rec.via == src {
			keys = append(keys, s.key)
		}
	}
	for _, k := range keys {
		if rec, ok := e.jobs.take(k); ok {
			e.input.Duplicate++
			e.decOut(&rec, t)
		}
	}
}

// partial handles a KindPartial marker: the trace is complete only from
// ev.Count on.
func (e *Engine) partial(ev *event.Event) {
	if from := int64(ev.Count); from > e.fj.completeFrom {
		e.fj.completeFrom = from
		e.input.CompleteFrom = from
	}
}

// incomplete marks the no-progress stretch in progress, and the idle one,
// as no evidence: some CPUs' events are still missing (before
// completeFrom).
func (e *Engine) incomplete() {
	e.tainted = true
	e.idleTaint = true
}
