// Package tracedat reads trace-cmd's binary trace.dat files, versions 6
// and 7, without trace-cmd: the file header, the ring-buffer header formats
// (header_page, header_event), the event format files stored in the file,
// the saved command lines, and the per-CPU flyrecord data of every buffer
// (the top instance and named instances), including version 7's compressed
// sections and chunked, compressed CPU data (zlib, zstd).
//
// Layers, bottom up: File parses the container (headers, sections,
// options, buffers) from an io.ReaderAt and hands out each CPU's ring-buffer
// pages with Pages; Source decodes those pages through the formats stored
// in the file (package ftrace, with the tracepoints of package tracepoint)
// into the event model, merging CPUs in time order. Memory stays bounded:
// pages are read, or decompressed chunk by chunk, as they are consumed.
//
// The layout follows trace-cmd's own description of the format
// (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)).
package tracedat
