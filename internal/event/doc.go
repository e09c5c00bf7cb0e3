// Package event is gpuwatch's one event model: what every source (trace-cmd
// report text, trace.dat, tracefs trace_pipe_raw, eBPF, the simulator)
// translates the GPU scheduler tracepoints into, and what the engine in
// internal/gaps consumes.
//
// Nothing downstream of a source knows which tracepoint generation or which
// transport an event came from: an Event carries a time on the trace clock,
// the CPU and task that emitted it, what happened to a job (Kind), the ring
// and a key that ties a completion to its submission.
package event
