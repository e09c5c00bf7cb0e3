// Package tracefs reads the Linux kernel's GPU scheduler tracepoints in the
// forms they reach gpuwatch: tracefs event "format" files, binary per-CPU
// ring-buffer pages (trace_pipe_raw, trace.dat data), and text, the output
// of `trace-cmd report` and of tracefs trace / trace_pipe.
//
// The tracepoints themselves, per kernel generation, are described by
// package tracepoint.
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
