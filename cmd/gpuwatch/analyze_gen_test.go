package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// TestAnalyzeGenerations rewrites the seed trace's events in every
// tracepoint generation's format (µs and ns timestamps, with and without
// an instance prefix, gzip or not) and checks that analyze --json prints
// the gpuwatch.analysis/v1 document with the seed's four windows each time.
func TestAnalyzeGenerations(t *testing.T) {
	f, err := os.Open(seedTraceFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	if err := event.Drain(reporttext.NewReader(f, seedTraceFile), func(ev event.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	for _, gen := range tracepoint.Generations() {
		for _, ns := range []bool{false, true} {
			for _, inst := range []string{"", "gpu"} {
				name := fmt.Sprintf("%s/ns=%v/instance=%q", gen, ns, inst)
				t.Run(name, func(t *testing.T) {
					var buf bytes.Buffer
					w := reporttext.NewWriter(&buf, reporttext.WriterOptions{Gen: gen, Nanoseconds: ns, Instance: inst, CPUs: 4})
					for _, ev := range evs {
						if err := w.Write(ev); err != nil {
							t.Fatal(err)
						}
					}
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
					in := buf.Bytes()
					if ns {
						in = gz(t, in) // and gzip on the way
					}
					code, stdout, stderr := runCLI(t, in, "analyze", "--json", "-")
					if code != 0 || stderr != "" {
						t.Fatalf("exit %d, stderr:\n%s", code, stderr)
					}
					var doc struct {
						Schema string
						Input  struct {
							Events    uint64
							Malformed uint64 `json:"malformed_lines"`
							Unknown   uint64 `json:"unknown_lines"`
						}
						Timeslice struct {
							Detected bool
							Share    float64
						}
						Windows []struct {
							Start float64 `json:"start_seconds"`
							End   float64 `json:"end_seconds"`
							Kind  string
						}
					}
					if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
						t.Fatal(err)
					}
					if doc.Schema != "gpuwatch.analysis/v1" || doc.Input.Events == 0 || doc.Input.Malformed != 0 || doc.Input.Unknown != 0 {
						t.Errorf("schema %q, input %+v", doc.Schema, doc.Input)
					}
					if !doc.Timeslice.Detected || math.Abs(doc.Timeslice.Share-0.5) > 0.05 {
						t.Errorf("timeslice %+v", doc.Timeslice)
					}
					if len(doc.Windows) != len(seedWindowsUS) {
						t.Fatalf("%d windows, want %d", len(doc.Windows), len(seedWindowsUS))
					}
					for i, w := range doc.Windows {
						got := [2]int64{int64(math.Round(w.Start * 1e6)), int64(math.Round(w.End * 1e6))}
						if got != seedWindowsUS[i] || w.Kind != "switched_out" {
							t.Errorf("window %d: %v %s, want %v switched_out", i, got, w.Kind, seedWindowsUS[i])
						}
					}
				})
			}
		}
	}
}
