package event

import (
	"fmt"
	"io"
)

// Kind is what happened to a job.
type Kind uint8

const (
	// KindUnknown is the zero Kind; sources never emit it.
	KindUnknown Kind = iota
	// KindQueue: a job was pushed to its entity's software queue
	// (amd_sched_job, drm_sched_job, drm_sched_job_queue, amdgpu_cs_ioctl).
	KindQueue
	// KindRun: the scheduler pushed the job to the hardware ring
	// (drm_run_job, drm_sched_job_run, amdgpu_sched_run_job).
	KindRun
	// KindDone: the job's fence signalled (amd_sched_process_job,
	// drm_sched_process_job, drm_sched_job_done, dma_fence_signaled).
	KindDone
	// KindDep: the job gained or waits on a dependency
	// (drm_sched_job_wait_dep, drm_sched_job_add_dep).
	KindDep
	// KindUnschedulable: the job cannot be scheduled yet
	// (drm_sched_job_unschedulable).
	KindUnschedulable
	// KindEmit: a fence was emitted to the ring (dma_fence_emit).
	KindEmit
	// KindLost: the source lost Count events before this point
	// (a "[LOST N EVENTS]" marker, a ring-buffer page with the missed flag).
	KindLost
	// KindPartial: some CPUs' events are complete only from trace time
	// Count (ns) on: a CPU's buffer began later than the trace
	// (trace-cmd's per-CPU buffers start up to a second or more apart),
	// so before Count the trace holds only some CPUs' events. Sources
	// emit it once, before their first event, with Time that event's.
	KindPartial
	numKinds
)

var kindNames = [numKinds]string{"unknown", "queue", "run", "done", "dep", "unschedulable", "emit", "lost", "partial"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// NumKinds is the number of kinds, for tables indexed by Kind.
const NumKinds = int(numKinds)

// JobKey ties a completion to its submission. Up to Linux 6.16 the
// scheduler names a job by the address of its "finished" fence (Fence);
// from 6.17 by the fence's context and seqno. A key with all fields zero is
// "no key".
type JobKey struct {
	Fence   uint64 // fence pointer, 0 when the event names the job by context:seqno
	Context uint64 // fence context (6.17+ events, dma_fence events)
	Seqno   uint64 // fence seqno
}

// IsZero reports whether k names no job.
func (k JobKey) IsZero() bool { return k == JobKey{} }

func (k JobKey) String() string {
	if k.Fence != 0 {
		return fmt.Sprintf("%#x", k.Fence)
	}
	return fmt.Sprintf("%d:%d", k.Context, k.Seqno)
}

// Event is one observation of the GPU scheduler. It is a small value type:
// sources reuse string values (Ring, Comm, Name) through interning, so an
// Event can be copied freely.
type Event struct {
	Time int64 // nanoseconds on the trace clock
	CPU  int32
	PID  int32
	Comm string // task name, "" when the source does not know it
	Kind Kind
	// Name is the tracepoint as "system:event" (e.g. "gpu_scheduler:drm_run_job").
	Name string
	// Ring is the scheduler (ring) name, e.g. "gfx", "sdma0", "comp_1.0.0".
	// Completion events of Linux ≤ 6.16 do not carry it: "" then, and the
	// engine finds the ring through Job.
	Ring string
	// Driver is the fence's driver for dma_fence events (get_driver_name:
	// "amd_sched" and "drm_sched" for the GPU scheduler's fences,
	// "amdgpu" for hardware fences, ...); "" for other events and for
	// sources that do not know it.
	Driver string
	Job    JobKey
	// ID is the scheduler's job id (drm_sched_job.id) where the event has one.
	ID uint64
	// Entity is the drm_sched_entity pointer where the event has one.
	Entity uint64
	// JobCount and HWJobCount are the entity queue depth and the ring's
	// hardware job count (credit count) as the event reports them; -1 when absent.
	JobCount   int32
	HWJobCount int32
	// Count is the number of events lost, for KindLost; the time from
	// which every CPU's events are complete, for KindPartial.
	Count uint64
}

func (e Event) String() string {
	return fmt.Sprintf("%d.%09d cpu=%d %s ring=%q job=%s", e.Time/1e9, e.Time%1e9, e.CPU, e.Kind, e.Ring, e.Job)
}

// Source yields events in non-decreasing time order.
//
// Next returns io.EOF when the source is exhausted (offline) or closed
// (live). Sources that can report malformed input keep going and report it
// through their own Warnings; Next returns a non-EOF error only when the
// source cannot continue.
type Source interface {
	Next() (Event, error)
}

// BatchSource is a Source that can also hand out its events a batch at a
// time, saving a call and a copy per event. A reader uses one or the other.
type BatchSource interface {
	Source
	// NextBatch returns the next events, at least one, in the order Next
	// would; the slice is valid until the next call. Errors are Next's.
	NextBatch() ([]Event, error)
}

// Drainer is a BatchSource that can run DrainBatches' loop itself, and may
// call fn from goroutines of its own: the parallel text reader calls it on
// the CPU that parsed the batch. The calls keep DrainBatches' promises:
// the events in order, and never two calls at once; each call, and
// Drain's return, happens after the previous call returned (in the memory
// model's sense), so fn needs no lock of its own. fn must not call the
// source, and a panic in it cannot be recovered by Drain's caller.
type Drainer interface {
	BatchSource
	// Drain hands every remaining event to fn; it returns nil at the end
	// of the source, else Next's error.
	Drain(fn func([]Event)) error
}

// DrainBatches feeds every event of src to fn until src is exhausted, a
// batch at a time where src is a BatchSource (else one event per call).
// fn must not keep the slice. Where src is a Drainer, fn may be called on
// another goroutine, one call at a time (see Drainer).
func DrainBatches(src Source, fn func([]Event)) error {
	if d, ok := src.(Drainer); ok {
		return d.Drain(fn)
	}
	bs, batched := src.(BatchSource)
	var one [1]Event
	for {
		var evs []Event
		var err error
		if batched {
			evs, err = bs.NextBatch()
		} else {
			one[0], err = src.Next()
			evs = one[:]
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(evs)
	}
}

// Drain feeds every event of src to fn until src is exhausted, through
// DrainBatches: fn may be called on another goroutine, one call at a time.
func Drain(src Source, fn func(Event)) error {
	return DrainBatches(src, func(evs []Event) {
		for i := range evs {
			fn(evs[i])
		}
	})
}

// AddCount is a+b for event counts, saturating at the largest uint64
// instead of wrapping: lost-event counts come from input ("[LOST N
// EVENTS]"), and two huge ones must not sum to a small one.
func AddCount(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<64 - 1
}
