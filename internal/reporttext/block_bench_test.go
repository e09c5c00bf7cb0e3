package reporttext

import (
	"bytes"
	"os"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// BenchmarkParseBlock is one worker of the parallel reader parsing a block
// (the first lineBlockSize bytes of whole lines of $GPUWATCH_BENCH_REPORT)
// held in memory: the per-line cost without I/O, reported as ns/line.
// Skipped when the variable is unset.
func BenchmarkParseBlock(b *testing.B) {
	path := os.Getenv("GPUWATCH_BENCH_REPORT")
	if path == "" {
		b.Skip("set GPUWATCH_BENCH_REPORT to a trace-cmd report file")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, lineBlockSize)
	n, _ := f.ReadAt(buf, 0)
	buf = buf[:n]
	buf = buf[:bytes.LastIndexByte(buf, '\n')+1]
	// Skip the header lines ("cpus=2"): a worker sees event lines.
	for len(buf) > 0 && !bytes.Contains(buf[:bytes.IndexByte(buf, '\n')], []byte(": ")) {
		buf = buf[bytes.IndexByte(buf, '\n')+1:]
	}
	lines := bytes.Count(buf, []byte{'\n'})
	w := newTextWorker(path)
	evs := make([]event.Event, 0, lines)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		res := w.parseBlock(&lineBlock{buf: buf}, 6, evs[:0])
		if len(res.evs) != lines {
			b.Fatalf("%d events from %d lines", len(res.evs), lines)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
