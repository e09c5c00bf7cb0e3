// Package input opens every trace a user has, from a file or a pipe:
// `trace-cmd report` text (and tracefs trace / trace_pipe text), trace.dat,
// each plain or compressed with gzip or zstd. It sniffs the content (never
// the file name), spools a piped trace.dat to a temporary file (it needs
// random access) up to a size cap, decompresses beside the parsing (read
// ahead), hands out one event source, and collects what the reader
// counted and warned about. `gpuwatch analyze` and `gpuwatch watch
// --replay` open their input through it, so they accept the same inputs
// and fail the same way.
//
// It also says from when a trace is complete: trace-cmd's per-CPU
// buffers start apart, so a trace's first second may hold only some
// CPUs' events. The source it hands out begins with an
// event.KindPartial marker where that is so (see Skew).
package input
