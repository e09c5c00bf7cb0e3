package reporttext_test

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
)

// BenchmarkAnalyzeFile runs the offline pipeline of `gpuwatch analyze`
// (Reader on every CPU → gaps engine → snapshot) over the report text
// named by $GPUWATCH_BENCH_REPORT, for profiling with -cpuprofile /
// -memprofile. Skipped when the variable is unset.
func BenchmarkAnalyzeFile(b *testing.B) {
	benchFile(b, func(src *reporttext.Reader) {
		src.Parallel(runtime.GOMAXPROCS(0)) // as analyze does
		eng := gaps.New(gaps.Config{})
		if err := event.DrainBatches(src, eng.FeedBatch); err != nil && err != io.EOF {
			b.Fatal(err)
		}
		eng.Snapshot()
		src.Close()
	})
}

// BenchmarkParseFile is the sequential parser alone.
func BenchmarkParseFile(b *testing.B) {
	benchFile(b, func(src *reporttext.Reader) {
		if err := event.Drain(src, func(event.Event) {}); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	})
}

// benchFile runs do on a reader of $GPUWATCH_BENCH_REPORT per iteration.
func benchFile(b *testing.B, do func(*reporttext.Reader)) {
	path := os.Getenv("GPUWATCH_BENCH_REPORT")
	if path == "" {
		b.Skip("set GPUWATCH_BENCH_REPORT to a trace-cmd report file")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		do(reporttext.NewReader(f, path))
		f.Close()
	}
	// CPU time (user+system, all threads) per op: with the parallel
	// reader, what the speed-up costs.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkParseFileParallel is the parallel parser alone.
func BenchmarkParseFileParallel(b *testing.B) {
	benchFile(b, func(src *reporttext.Reader) {
		src.Parallel(runtime.GOMAXPROCS(0))
		if err := event.Drain(src, func(event.Event) {}); err != nil && err != io.EOF {
			b.Fatal(err)
		}
		src.Close()
	})
}
