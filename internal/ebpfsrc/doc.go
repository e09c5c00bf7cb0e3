// Package ebpfsrc is gpuwatch's eBPF live source: it loads the program of
// package bpf, configures it from each scheduler tracepoint's tracefs
// format file (field offsets and sizes, so one object serves every kernel
// generation), attaches it to every tracepoint with a per-event attach
// cookie, and decodes the compact records of its BPF ring buffer into
// event.Events without per-event allocation.
//
// Besides the per-event records the program keeps, per ring and inside the
// kernel, the number of jobs in flight and a log2 histogram of the gaps
// between completions while work was in flight (GapHistogram): the
// switch-out signature survives even when the ring buffer overflows.
package ebpfsrc
