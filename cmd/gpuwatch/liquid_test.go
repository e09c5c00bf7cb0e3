package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/simulate"
)

// TestAnalyzeLiquid runs what a tenant on a liquid host would: a trace
// whose turns last whole quanta (the neighbour busy 70% of the time), then
// analyze. The quantum, the mean turn and the mean turn-to-turn time are
// held to the simulator's truth, and the text says what the slice is.
func TestAnalyzeLiquid(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates seconds of trace")
	}
	rep, tr := simulateWithTruth(t, "--policy", "liquid", "--neighbour-load", "0.7", "--duration", "3s")
	code, stdout, stderr := runCLI(t, nil, "analyze", "--json", rep)
	if code != 0 {
		t.Fatalf("analyze --json: exit %d: %s", code, stderr)
	}
	var doc struct {
		Timeslice struct {
			Detected            bool
			SliceSeconds        float64 `json:"slice_seconds"`
			SliceErrSeconds     float64 `json:"slice_err_seconds"`
			TurnSeconds         float64 `json:"turn_seconds"`
			PeriodSeconds       float64 `json:"period_seconds"`
			PeriodSpreadSeconds float64 `json:"period_spread_seconds"`
			Mode                string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("analyze --json: %v", err)
	}
	ts := doc.Timeslice
	if !ts.Detected || ts.Mode != "variable" {
		t.Fatalf("schedule detected %v mode %q, want a variable one", ts.Detected, ts.Mode)
	}
	rel := func(got, want float64) float64 { return math.Abs(got-want) / want }
	if rel(ts.SliceSeconds, tr.Quantum) > 0.01 || math.Abs(ts.SliceSeconds-tr.Quantum) > 2*ts.SliceErrSeconds {
		t.Errorf("slice %.4f ms ± %.4f, want the quantum %.4f ms", 1e3*ts.SliceSeconds, 1e3*ts.SliceErrSeconds, 1e3*tr.Quantum)
	}
	if rel(ts.TurnSeconds, tr.Slice) > 0.01 {
		t.Errorf("turn %.3f ms, want the mean turn %.3f ms", 1e3*ts.TurnSeconds, 1e3*tr.Slice)
	}
	if rel(ts.PeriodSeconds, tr.Period) > 0.01 {
		t.Errorf("period %.3f ms, want the mean turn to turn %.3f ms", 1e3*ts.PeriodSeconds, 1e3*tr.Period)
	}
	if ts.PeriodSpreadSeconds <= 0 {
		t.Errorf("no period spread")
	}
	_, text, _ := runCLI(t, nil, "analyze", rep)
	for _, want := range []string{"the quantum: turns last whole multiples of it", "mean turn to turn; spread"} {
		if !strings.Contains(text, want) {
			t.Errorf("analyze text lacks %q:\n%s", want, text)
		}
	}
}

// simulateWithTruth runs gpuwatch simulate with args into a temporary
// report and returns its path and the simulator's truth.
func simulateWithTruth(t *testing.T, args ...string) (string, simulate.Truth) {
	t.Helper()
	dir := t.TempDir()
	rep, truthFile := filepath.Join(dir, "t.report"), filepath.Join(dir, "t.truth.json")
	if code, _, stderr := runCLI(t, nil, append([]string{"simulate", "-o", rep, "--truth", truthFile}, args...)...); code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	var tr simulate.Truth
	b, err := os.ReadFile(truthFile)
	if err == nil {
		err = json.Unmarshal(b, &tr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep, tr
}
