// Package ftrace reads the kernel's ftrace binary ABI: the tracefs event
// "format" files (ParseFormat), the ring-buffer page and event headers
// (ParseHeaderPage, ParseHeaderEvent), the per-CPU ring-buffer pages that
// trace_pipe_raw and a trace.dat file's data hold (DecodePage), and the
// records on them (Decoder), which it turns into event.Events through the
// field names of package tracepoint's Known table or explicit Mappings.
//
// The package takes byte slices and io.Readers; it opens no files. The live
// reader (tracefs), the trace.dat source (tracedat) and the eBPF source
// (ebpfsrc) feed it.
package ftrace
