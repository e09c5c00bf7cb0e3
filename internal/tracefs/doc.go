// Package tracefs reads the kernel's GPU scheduler tracepoints live, from a
// tracefs instance of its own: Open finds the tracefs root (FindRoot, the
// one discovery the eBPF source and the live tests use too), creates the
// instance, enables the events, reads every CPU's trace_pipe_raw pages
// (decoded by package ftrace), and on Close disables the events and removes
// the instance. Instances carry their owner's lock (owner.go), so stale
// ones of a dead gpuwatch are removed and live ones of another are left
// alone.
//
// The same events recorded to a trace.dat file are read by package
// tracedat, and as text by package reporttext.
package tracefs
