package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// longSeed repeats the seed trace's events, shifted by its span each time,
// to about n events of report text.
func longSeed(b *testing.B, n int) []byte {
	f, err := os.Open(seedTraceFile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	if err := event.Drain(reporttext.NewReader(f, "seed"), func(ev event.Event) { evs = append(evs, ev) }); err != nil {
		b.Fatal(err)
	}
	span := evs[len(evs)-1].Time - evs[0].Time + int64(300*time.Microsecond)
	var buf bytes.Buffer
	w := reporttext.NewWriter(&buf, reporttext.WriterOptions{Gen: tracepoint.GenAMD, CPUs: 4})
	for k := 0; k*len(evs) < n; k++ {
		for _, ev := range evs {
			ev.Time += int64(k) * span
			if err := w.Write(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkAnalyze measures `gpuwatch analyze` end to end (parse, engine,
// report) on ~200k events, against a reference in the same process: only
// splitting the same bytes into lines. "x_lines" is the ratio of the two
// times per byte.
func BenchmarkAnalyze(b *testing.B) {
	in := longSeed(b, 200_000)
	var ref time.Duration
	{
		t0 := time.Now()
		for range 3 {
			sc := bufio.NewScanner(bytes.NewReader(in))
			for sc.Scan() {
			}
		}
		ref = time.Since(t0) / 3
	}
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		if code := runWith([]string{"analyze", "--json", "-"}, bytes.NewReader(in), io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(time.Since(t0))/float64(b.N)/float64(ref), "x_lines")
}
