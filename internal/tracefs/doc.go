// Package tracefs reads the Linux kernel's GPU scheduler tracepoints in the
// forms they reach gpuwatch: tracefs event "format" files, binary per-CPU
// ring-buffer pages (trace_pipe_raw, trace.dat data), and text, the output
// of `trace-cmd report` and of tracefs trace / trace_pipe.
//
// Known lists every tracepoint generation gpuwatch understands, each with
// its format-file field names and its TP_printk formats as the kernel
// source defines them: gpu_sched (Linux ≤ 4.15), gpu_scheduler (4.16–6.16,
// and the stable events of 6.17+), amdgpu's submission events, dma_fence
// and its older name fence.
//
// TextReader is a streaming, allocation-free parser of report text that
// yields event.Events; with Parallel(n) it cuts the input into blocks of
// lines parsed by n goroutines and still returns the sequential result,
// event for event and warning for warning. TextWriter writes events back as trace-cmd report
// prints them for a chosen Generation, so that simulated traces read back
// through the same parser as real ones.
//
// The package takes io.Readers and fs.FS values; only the live sources
// touch /sys.
package tracefs
