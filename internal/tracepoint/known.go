package tracepoint

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
	// event has none. A name may be missing from an older or newer
	// kernel's format file (e.g. sched_job_id of amdgpu events is gone in
	// 6.17): decoders treat a missing field as absent.
	Ring       string // ring / scheduler / timeline name (string or __data_loc)
	Driver     string // the fence's driver name (dma_fence events)
	Fence      string // fence pointer (≤ 6.16)
	Context    string // fence context (6.17+, dma_fence)
	Seqno      string // fence seqno
	ID         string // drm_sched_job id
	Entity     string // drm_sched_entity pointer
	JobCount   string
	HWJobCount string

	// Formats lists the TP_printk formats this event had over the kernel
	// versions, newest first. The text parser tries them in order; the
	// binary decoders need only the field names above.
	Formats []PrintFormat
}

// PrintFormat is one TP_printk of an event, as a kernel version defined it.
type PrintFormat struct {
	// Printk is the TP_printk format string, verbatim from the kernel.
	Printk string
	// Args names the format-file field behind each conversion of Printk,
	// in order.
	Args []string
	// Kernels is the range of Linux versions that print this format, and
	// Source the kernel file defining it.
	Kernels string
	Source  string
}

// Name is "system:event".
func (s *Spec) Name() string { return s.System + ":" + s.Event }

// Kernel source files the formats below are taken from.
const (
	srcAMDSched  = "drivers/gpu/drm/amd/scheduler/gpu_sched_trace.h"
	srcDRMSched  = "drivers/gpu/drm/scheduler/gpu_scheduler_trace.h"
	srcAMDGPU    = "drivers/gpu/drm/amd/amdgpu/amdgpu_trace.h"
	srcDMAFence  = "include/trace/events/dma_fence.h"
	srcOldFence  = "include/trace/events/fence.h"
	fmtDRMJob    = "entity=%p, id=%llu, fence=%p, ring=%s, job count:%u, hw job count:%d"
	fmtDRMJobDev = "dev=%s, entity=%p, id=%llu, fence=%p, ring=%s, job count:%u, hw job count:%d"
	fmt617Job    = "dev=%s, fence=%llu:%llu, ring=%s, job count:%u, hw job count:%d, client_id:%llu"
	fmtFence     = "driver=%s timeline=%s context=%u seqno=%u"
)

var (
	argsDRMJob    = []string{"entity", "id", "fence", "name", "job_count", "hw_job_count"}
	argsDRMJobDev = []string{"dev", "entity", "id", "fence", "name", "job_count", "hw_job_count"}
	args617Job    = []string{"dev", "fence_context", "fence_seqno", "name", "job_count", "hw_job_count", "client_id"}
	argsFence     = []string{"driver", "timeline", "context", "seqno"}
)

// amdgpuJobFormats are the formats of amdgpu_cs_ioctl and
// amdgpu_sched_run_job, drivers/gpu/drm/amd/amdgpu/amdgpu_trace.h.
var amdgpuJobFormats = []PrintFormat{
	// 6c8e8a1c4371 "drm/amdgpu: update trace format to match gpu_scheduler_trace".
	{Printk: "timeline=%s, fence=%llu:%llu, ring_name=%s, num_ibs=%u",
		Args: []string{"timeline", "context", "seqno", "ring", "num_ibs"}, Kernels: "6.17-", Source: srcAMDGPU},
	// After 4f7fa5fa414c "drm: Get rid of drm_sched_job.id", same merge window.
	{Printk: "timeline=%s, context=%u, seqno=%u, ring_name=%s, num_ibs=%u",
		Args: []string{"timeline", "context", "seqno", "ring", "num_ibs"}, Kernels: "drm-misc-next only, never released", Source: srcAMDGPU},
	// ring_name was a char * field, later __string(ring).
	{Printk: "sched_job=%llu, timeline=%s, context=%u, seqno=%u, ring_name=%s, num_ibs=%u",
		Args: []string{"sched_job_id", "timeline", "context", "seqno", "ring", "num_ibs"}, Kernels: "4.10-6.16 (dma_fence era)", Source: srcAMDGPU},
	// struct fence era: no fence identity the scheduler events share.
	{Printk: "adev=%p, sched_job=%p, first ib=%p, sched fence=%p, ring name:%s, num_ibs:%u",
		Args: []string{"adev", "sched_job", "ib", "fence", "ring_name", "num_ibs"}, Kernels: "≤ 4.9 (struct fence era)", Source: srcAMDGPU},
}

// Known lists every tracepoint gpuwatch understands, all generations.
// Sources: see the comment on each entry and each PrintFormat.
var Known = []Spec{
	// Linux ≤ 4.15 (amd scheduler, before it moved to drm/scheduler in 4.16):
	// drivers/gpu/drm/amd/scheduler/gpu_sched_trace.h, TRACE_SYSTEM gpu_sched.
	// "name" is a const char * field there (not a __string): the kernel's
	// trace text prints the ring name, trace-cmd may print an address.
	{System: "gpu_sched", Event: "amd_sched_job", Kind: event.KindQueue, Ring: "name", Fence: "fence", ID: "id", Entity: "entity", JobCount: "job_count", HWJobCount: "hw_job_count",
		Formats: []PrintFormat{
			// struct dma_fence, job id, spsc_queue: the last amd scheduler
			// (as in ROCm/ROCK-Kernel-Driver and freebsd/drm-kmod's copies).
			{Printk: fmtDRMJob, Args: argsDRMJob, Kernels: "4.1x-4.15 (dma_fence era, with job id)", Source: srcAMDSched},
			// struct fence (renamed dma_fence in 4.10).
			{Printk: "entity=%p, sched job=%p, fence=%p, ring=%s, job count:%u, hw job count:%d",
				Args: []string{"entity", "sched_job", "fence", "name", "job_count", "hw_job_count"}, Kernels: "≤ 4.9 (struct fence era)", Source: srcAMDSched},
			// The first version: no fence, no completion event.
			{Printk: "entity=%p, ring=%s, job count:%u, hw job count:%d",
				Args: []string{"entity", "name", "job_count", "hw_job_count"}, Kernels: "4.2-4.x (first amd scheduler)", Source: srcAMDSched},
		}},
	{System: "gpu_sched", Event: "amd_sched_process_job", Kind: event.KindDone, Fence: "fence",
		Formats: []PrintFormat{{Printk: "fence=%p signaled", Args: []string{"fence"}, Kernels: "4.x-4.15", Source: srcAMDSched}}},

	// Linux 4.16–6.16, drivers/gpu/drm/scheduler/gpu_scheduler_trace.h
	// (DECLARE_EVENT_CLASS drm_sched_job; TRACE_EVENT drm_sched_process_job).
	{System: "gpu_scheduler", Event: "drm_sched_job", Kind: event.KindQueue, Ring: "name", Fence: "fence", ID: "id", Entity: "entity", JobCount: "job_count", HWJobCount: "hw_job_count",
		Formats: []PrintFormat{
			{Printk: fmtDRMJob, Args: argsDRMJob, Kernels: "4.16-6.16", Source: srcDRMSched},
			{Printk: fmtDRMJobDev, Args: argsDRMJobDev, Kernels: "drm-misc-next only (d6b7b46232b7), never released", Source: srcDRMSched},
		}},
	{System: "gpu_scheduler", Event: "drm_run_job", Kind: event.KindRun, Ring: "name", Fence: "fence", ID: "id", Entity: "entity", JobCount: "job_count", HWJobCount: "hw_job_count",
		Formats: []PrintFormat{
			{Printk: fmtDRMJob, Args: argsDRMJob, Kernels: "4.16-6.16", Source: srcDRMSched},
			{Printk: fmtDRMJobDev, Args: argsDRMJobDev, Kernels: "drm-misc-next only (d6b7b46232b7), never released", Source: srcDRMSched},
		}},
	{System: "gpu_scheduler", Event: "drm_sched_process_job", Kind: event.KindDone, Fence: "fence",
		Formats: []PrintFormat{{Printk: "fence=%p signaled", Args: []string{"fence"}, Kernels: "4.16-6.16", Source: srcDRMSched}}},
	// The dependency is "fence"; the job itself is named by ring and id only.
	// "name" was a const char * at first, a __string later.
	{System: "gpu_scheduler", Event: "drm_sched_job_wait_dep", Kind: event.KindDep, Ring: "name", ID: "id",
		Formats: []PrintFormat{{
			Printk:  "job ring=%s, id=%llu, depends fence=%p, context=%llu, seq=%u",
			Args:    []string{"name", "id", "fence", "ctx", "seqno"},
			Kernels: "4.x-6.16 (introduction not pinned down)", Source: srcDRMSched,
		}}},

	// Linux 6.17+, stable uAPI: drivers/gpu/drm/scheduler/gpu_scheduler_trace.h
	// ("DOC: uAPI trace events").
	{System: "gpu_scheduler", Event: "drm_sched_job_queue", Kind: event.KindQueue, Ring: "name", Context: "fence_context", Seqno: "fence_seqno", JobCount: "job_count", HWJobCount: "hw_job_count",
		Formats: []PrintFormat{{Printk: fmt617Job, Args: args617Job, Kernels: "6.17-", Source: srcDRMSched}}},
	{System: "gpu_scheduler", Event: "drm_sched_job_run", Kind: event.KindRun, Ring: "name", Context: "fence_context", Seqno: "fence_seqno", JobCount: "job_count", HWJobCount: "hw_job_count",
		Formats: []PrintFormat{{Printk: fmt617Job, Args: args617Job, Kernels: "6.17-", Source: srcDRMSched}}},
	{System: "gpu_scheduler", Event: "drm_sched_job_done", Kind: event.KindDone, Context: "fence_context", Seqno: "fence_seqno",
		Formats: []PrintFormat{{Printk: "fence=%llu:%llu signaled", Args: []string{"fence_context", "fence_seqno"}, Kernels: "6.17-", Source: srcDRMSched}}},
	// The job is fence_context:fence_seqno; ctx:seqno is the dependency.
	{System: "gpu_scheduler", Event: "drm_sched_job_add_dep", Kind: event.KindDep, Context: "fence_context", Seqno: "fence_seqno",
		Formats: []PrintFormat{{Printk: "fence=%llu:%llu depends on fence=%llu:%llu", Args: []string{"fence_context", "fence_seqno", "ctx", "seqno"}, Kernels: "6.17-", Source: srcDRMSched}}},
	{System: "gpu_scheduler", Event: "drm_sched_job_unschedulable", Kind: event.KindUnschedulable, Context: "fence_context", Seqno: "fence_seqno",
		Formats: []PrintFormat{{Printk: "fence=%llu:%llu depends on unsignalled fence=%llu:%llu", Args: []string{"fence_context", "fence_seqno", "ctx", "seqno"}, Kernels: "6.17-", Source: srcDRMSched}}},

	// amdgpu's own submission events: the job's finished fence by
	// context:seqno (sched_job_id until 6.16). The timeline is the
	// scheduler's name, as ring=%s of gpu_scheduler.
	{System: "amdgpu", Event: "amdgpu_cs_ioctl", Kind: event.KindQueue, Ring: "timeline", Context: "context", Seqno: "seqno", ID: "sched_job_id", Formats: amdgpuJobFormats},
	{System: "amdgpu", Event: "amdgpu_sched_run_job", Kind: event.KindRun, Ring: "timeline", Context: "context", Seqno: "seqno", ID: "sched_job_id", Formats: amdgpuJobFormats},

	// dma_fence (4.10+) and its older name fence (≤ 4.9): extra signals keyed
	// by context:seqno; the timeline name stands in for the ring.
	{System: "dma_fence", Event: "dma_fence_emit", Kind: event.KindEmit, Ring: "timeline", Driver: "driver", Context: "context", Seqno: "seqno",
		Formats: []PrintFormat{{Printk: fmtFence, Args: argsFence, Kernels: "4.10-", Source: srcDMAFence}}},
	{System: "dma_fence", Event: "dma_fence_signaled", Kind: event.KindDone, Ring: "timeline", Driver: "driver", Context: "context", Seqno: "seqno",
		Formats: []PrintFormat{{Printk: fmtFence, Args: argsFence, Kernels: "4.10-", Source: srcDMAFence}}},
	{System: "fence", Event: "fence_emit", Kind: event.KindEmit, Ring: "timeline", Driver: "driver", Context: "context", Seqno: "seqno",
		Formats: []PrintFormat{{Printk: fmtFence, Args: argsFence, Kernels: "3.17-4.9", Source: srcOldFence}}},
	{System: "fence", Event: "fence_signaled", Kind: event.KindDone, Ring: "timeline", Driver: "driver", Context: "context", Seqno: "seqno",
		Formats: []PrintFormat{{Printk: fmtFence, Args: argsFence, Kernels: "3.17-4.9", Source: srcOldFence}}},
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

// LookupEvent finds the Spec of an event by its name alone (trace-cmd
// report and tracefs trace text print the event name without its system).
// Event names are unique across Known.
func LookupEvent(name string) (*Spec, bool) {
	for i := range Known {
		if Known[i].Event == name {
			return &Known[i], true
		}
	}
	return nil, false
}
