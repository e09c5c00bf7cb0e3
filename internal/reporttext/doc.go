// Package reporttext reads and writes GPU scheduler events as text: the
// output of `trace-cmd report` (2.x and 3.x, with or without -t, -l and
// instance prefixes) and of tracefs trace / trace_pipe.
//
// Reader is a streaming, allocation-free parser of that text yielding
// event.Events. It matches each event's body against the TP_printk formats
// package tracepoint lists for it (printk.go), and reads the "name=value"
// bodies of dynamic events (fields.go). With Parallel(n) it cuts the input
// into blocks of lines parsed by n goroutines and still returns the
// sequential result, event for event and warning for warning
// (parallel.go).
//
// Writer writes events back as trace-cmd report prints them for a chosen
// tracepoint.Generation, so that simulated traces read back through the
// same parser as real ones.
//
// The package takes io.Readers and io.Writers; it opens no files.
package reporttext
