// Package tracepoint is gpuwatch's vocabulary of kernel GPU scheduler
// tracepoints: which events exist in each kernel generation and what their
// fields mean.
//
// Known lists every tracepoint gpuwatch understands, each as a Spec with
// its tracefs "format" file field names and its TP_printk formats
// (PrintFormat) as the kernel source defines them: gpu_sched (Linux ≤ 4.15),
// gpu_scheduler (4.16–6.16, and the stable events of 6.17+), amdgpu's
// submission events, dma_fence and its older name fence. Lookup and
// LookupEvent find a Spec by system and event, or by event name alone.
//
// Generation names the three generations of the scheduler's own events
// (GenAMD, GenDRM, Gen617); ParseGeneration reads one from a kernel
// version or a name.
//
// The package holds data and no I/O; the text reader (reporttext), the
// binary decoder (ftrace) and the eBPF source all map events through it.
package tracepoint
