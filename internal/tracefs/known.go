package tracefs

import "github.com/gpuwatch/gpuwatch/internal/event"

// Spec says how one kernel tracepoint maps onto the event model. Both the
// text parser (report / trace_pipe text) and the binary decoders (tracefs
// trace_pipe_raw, trace.dat, eBPF offsets) use it; the field names are those
// of the event's tracefs "format" file, taken from the kernel source that
// defines the event.
type Spec struct {
	System, Event string
	Kind          event.Kind
	// Format-file field names holding each model field; "" where the
	// event has none.
	Ring       string // ring / scheduler / timeline name (string or __data_loc)
	Fence      string // fence pointer (≤ 6.16)
	Context    string // fence context (6.17+, dma_fence)
	Seqno      string // fence seqno
	ID         string // drm_sched_job id
	Entity     string // drm_sched_entity pointer
	JobCount   string
	HWJobCount string
}

// Name is "system:event".
func (s *Spec) Name() string { return s.System + ":" + s.Event }

// Known lists every tracepoint gpuwatch understands, all generations.
// Sources: see the comment on each entry.
var Known = []Spec{
	// Linux 4.16–6.16, drivers/gpu/drm/scheduler/gpu_scheduler_trace.h
	// (DECLARE_EVENT_CLASS drm_sched_job; TRACE_EVENT drm_sched_process_job).
	{System: "gpu_scheduler", Event: "drm_sched_job", Kind: event.KindQueue, Ring: "name", Fence: "fence", ID: "id", Entity: "entity", JobCount: "job_count", HWJobCount: "hw_job_count"},
	{System: "gpu_scheduler", Event: "drm_run_job", Kind: event.KindRun, Ring: "name", Fence: "fence", ID: "id", Entity: "entity", JobCount: "job_count", HWJobCount: "hw_job_count"},
	{System: "gpu_scheduler", Event: "drm_sched_process_job", Kind: event.KindDone, Fence: "fence"},
}

// Lookup finds the Spec of system:event.
func Lookup(system, name string) (*Spec, bool) {
	for i := range Known {
		if Known[i].System == system && Known[i].Event == name {
			return &Known[i], true
		}
	}
	return nil, false
}
