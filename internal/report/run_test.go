package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
)

// runSnapshot is sampleSnapshot with the benchmark (bench-100) and another
// task on gfx, and a second ring the benchmark also used.
func runSnapshot() *gaps.Snapshot {
	s := sampleSnapshot(1437803888000)
	s.Rings[0].Processes = []gaps.ProcessStats{
		{Comm: "bench", PID: 100, Jobs: 40, Busy: 30 * time.Millisecond, Stalled: 10 * time.Millisecond},
		{Comm: "Xorg", PID: 7, Jobs: 10, Busy: 5 * time.Millisecond, Stalled: time.Millisecond},
	}
	s.Rings = append(s.Rings, gaps.RingStats{Name: "sdma0", Jobs: 5, Processes: []gaps.ProcessStats{
		{Comm: "bench", PID: 100, Jobs: 5, Busy: 2 * time.Millisecond, Stalled: time.Millisecond},
	}})
	return s
}

func TestRunTotals(t *testing.T) {
	r := &Run{PID: 100, Comm: "bench"}
	got := r.Totals(runSnapshot())
	want := RunTotals{Jobs: 45, OtherJobs: 10, Busy: 32 * time.Millisecond, Stalled: 11 * time.Millisecond,
		Others: []gaps.ProcessStats{{Comm: "Xorg", PID: 7, Jobs: 10, Busy: 5 * time.Millisecond, Stalled: time.Millisecond}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Totals = %+v, want %+v", got, want)
	}
	// Another task with the same PID (reused) is not the benchmark.
	if got := (&Run{PID: 100, Comm: "other"}).Totals(runSnapshot()); got.Jobs != 0 || got.OtherJobs != 55 {
		t.Errorf("Totals of a name never seen = %+v", got)
	}
}

func TestWriteRun(t *testing.T) {
	exp, _ := ParseExpectation("1/2")
	a := Build(runSnapshot(), InputStats{Format: "tracefs"}, exp)
	r := &Run{Command: []string{"bench", "--fast"}, PID: 100, Comm: "bench", Wall: 44 * time.Millisecond}
	var b bytes.Buffer
	if err := WriteRun(&b, a, r); err != nil {
		t.Fatal(err)
	}
	want := `
 GPU time of 'bench --fast' (gpuwatch run, tracefs):

               0.044 s  wall time               (exit status 0)
                    45  GPU jobs                (10 by other processes: Xorg-7 10)
               0.032 s  GPU busy                (72.7% of wall time)
               0.011 s  stalled, switched out   (25.0% of wall time)
          70.0% ± 1.0%  share                   (of the time work was outstanding)
                 50.0%  schedule share          (6.000 ms of every 12.000 ms)
   6.000 ms ± 0.050 ms  slice
  12.000 ms ± 0.000 ms  period
                     2  VFs
                 fixed  mode                    (confidence 0.40, 2 switched-out windows)
                  PASS  verdict                 expected 1/2 (50.0%)

 the benchmark waited 0.01 s (25.0%) for the host to switch this VM back in

`
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), want)
	}

	// Killed by a signal, no job seen, no expectation.
	a = Build(&gaps.Snapshot{}, InputStats{}, nil)
	r = &Run{Command: []string{"true"}, PID: 5, Comm: "true", Wall: time.Second, ExitStatus: 130, Signal: "SIGINT"}
	b.Reset()
	WriteRun(&b, a, r)
	for _, line := range []string{"(killed by SIGINT, exit status 130)", "(unresolved", "stalled, no progress", "the benchmark submitted no GPU job that gpuwatch saw"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, b.String())
		}
	}
	if strings.Contains(b.String(), "verdict") {
		t.Errorf("a verdict without --expect:\n%s", b.String())
	}
}

func TestWriteRunStallsWithoutSchedule(t *testing.T) {
	s := runSnapshot()
	s.Timeslice = gaps.Timeslice{Reason: "too few windows"}
	r := &Run{Command: []string{"bench"}, PID: 100, Comm: "bench", Wall: 44 * time.Millisecond}
	var b bytes.Buffer
	WriteRun(&b, Build(s, InputStats{}, nil), r)
	if strings.Contains(b.String(), "switch this VM back in") || !strings.Contains(b.String(), "waited 0.01 s (25.0%) with the GPU making no progress") {
		t.Errorf("stalls without a schedule are blamed on the host:\n%s", b.String())
	}
}

func TestVerdictWord(t *testing.T) {
	exp := &Expectation{Share: 0.5}
	for _, c := range []struct {
		s    *gaps.Snapshot
		exp  *Expectation
		want string
	}{
		{measured(0.5, 0.001), exp, "PASS"},
		{measured(0.3, 0.01), exp, "FAIL"},
		{&gaps.Snapshot{}, exp, "UNDETERMINED"},
		{measured(0.5, 0.001), nil, ""},
	} {
		if got := Build(c.s, InputStats{}, c.exp).VerdictWord(); got != c.want {
			t.Errorf("share %.2f: %q, want %q", c.s.Share.Ratio, got, c.want)
		}
	}
}

func TestRunJSON(t *testing.T) {
	s := runSnapshot()
	r := &Run{Command: []string{"bench"}, PID: 100, Comm: "bench", Wall: 44 * time.Millisecond, ExitStatus: 7}
	obj := r.JSON(Watch(s, live.Stats{Source: "ebpf"}, nil, true, time.Unix(0, 0)), s)
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["final"] != true || m["source"] != "ebpf" || m["exit_status"] != 7.0 || m["timeslice"] == nil {
		t.Errorf("run object lacks the watch object's fields or the status: %s", b)
	}
	bm, _ := m["benchmark"].(map[string]any)
	if bm["jobs"] != 45.0 || bm["other_jobs"] != 10.0 || bm["stalled_ratio"] != 0.25 {
		t.Errorf("benchmark = %v", bm)
	}
}
