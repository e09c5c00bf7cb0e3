package tracedat_test

import (
	"os"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
)

// BenchmarkDat decodes (and analyses, with -engine) the trace.dat named by
// GPUWATCH_BENCH_DAT (see TestRecordBenchDat).
func BenchmarkDat(b *testing.B) {
	path := os.Getenv("GPUWATCH_BENCH_DAT")
	if path == "" {
		b.Skip("set GPUWATCH_BENCH_DAT=PATH (a trace.dat, see TestRecordBenchDat)")
	}
	for _, engine := range []bool{false, true} {
		name := "decode"
		if engine {
			name = "decode+engine"
		}
		b.Run(name, func(b *testing.B) {
			var n int
			for i := 0; i < b.N; i++ {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				fi, _ := f.Stat()
				file, err := tracedat.Open(f, fi.Size(), path)
				if err != nil {
					b.Fatal(err)
				}
				src, err := tracedat.OpenSource(file)
				if err != nil {
					b.Fatal(err)
				}
				e := gaps.New(gaps.Config{})
				n = 0
				event.Drain(src, func(ev event.Event) {
					n++
					if engine {
						e.Feed(ev)
					}
				})
				if engine {
					e.Snapshot()
				}
				f.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
		})
	}
}
