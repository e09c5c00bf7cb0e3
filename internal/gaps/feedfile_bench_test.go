package gaps_test

import (
	"io"
	"os"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
)

// BenchmarkFeedFile is the engine alone, offline, over the events of the
// report text named by $GPUWATCH_BENCH_REPORT (parsed once, before timing).
// Its bytes/s are those of the file, comparable with tracefs's
// BenchmarkParseFile and BenchmarkAnalyzeFile. Skipped when the variable
// is unset.
func BenchmarkFeedFile(b *testing.B) {
	var evs []event.Event
	size := benchReport(b, func(batch []event.Event) { evs = append(evs, batch...) })
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		eng := gaps.New(gaps.Config{})
		for i := range evs {
			eng.Feed(evs[i])
		}
		eng.Snapshot()
	}
}

// BenchmarkSnapshotFile is the tail of an offline analysis: the final
// snapshot (threshold, whole-run inference, windows list) of the engine
// fed the events of $GPUWATCH_BENCH_REPORT. It runs once, after the last
// event, on one CPU: at 1 GB it is some 30k windows.
func BenchmarkSnapshotFile(b *testing.B) {
	eng := gaps.New(gaps.Config{})
	benchReport(b, eng.FeedBatch)
	b.ReportAllocs()
	for b.Loop() {
		eng.FinalSnapshot()
	}
}

// benchReport hands the events of the report text named by
// $GPUWATCH_BENCH_REPORT to feed, a batch at a time, and returns the
// file's size; it skips b when the variable is unset.
func benchReport(b *testing.B, feed func([]event.Event)) int64 {
	b.Helper()
	path := os.Getenv("GPUWATCH_BENCH_REPORT")
	if path == "" {
		b.Skip("set GPUWATCH_BENCH_REPORT to a trace-cmd report file")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	if err := event.DrainBatches(reporttext.NewReader(f, path), feed); err != nil && err != io.EOF {
		b.Fatal(err)
	}
	return fi.Size()
}
