package input

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

var updateTraces = flag.Bool("update-traces", false, "rewrite testdata/traces/amdgpu-4.11-baremetal.report")

const trace411 = "amdgpu-4.11-baremetal.report"

func tracesDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "traces")
}

// analyzeFile runs the engine over a file opened by Open, as analyze does.
func analyzeFile(t testing.TB, path string, opt Options) (gaps.Snapshot, Stats) {
	t.Helper()
	in, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	eng := gaps.New(gaps.Config{})
	if err := event.DrainBatches(in.Source(), eng.FeedBatch); err != nil {
		t.Fatal(err)
	}
	if err := in.Check(); err != nil {
		t.Fatal(err)
	}
	return *eng.Snapshot(), in.Stats()
}

// The committed trace is the generator's output.
func TestTrace411Generated(t *testing.T) {
	data, _ := gen411(1)
	path := filepath.Join(tracesDir(t), trace411)
	if *updateTraces {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%s is not the generator's output: go test ./internal/input -run Trace411Generated -update-traces", path)
	}
}

// On a bare-metal 4.11 capture of amdgpu and dma_fence events, at least
// 95% of the jobs with both ends in the file are matched, on every ring
// (each ring's lines analysed alone: the engine reports matches per
// trace, not per ring); on the whole trace nothing is a switched-out or
// stall window and no schedule is claimed (long jobs on bare metal are
// neither), and the share is not claimed either (jobs milliseconds long
// could hide a switch-out).
func TestAMDGPU411BareMetal(t *testing.T) {
	data, truth := gen411(1)
	dir := t.TempDir()
	path := filepath.Join(dir, trace411)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for ri, name := range truth.rings {
		// The ring's lines: its amdgpu events and fences name it as
		// their timeline.
		var b bytes.Buffer
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if bytes.HasPrefix(l, []byte("cpus=")) || bytes.Contains(l, []byte("timeline="+name+" ")) || bytes.Contains(l, []byte("timeline="+name+",")) {
				b.Write(l)
			}
		}
		rp := filepath.Join(dir, name+".report")
		if err := os.WriteFile(rp, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		s, _ := analyzeFile(t, rp, Options{})
		if len(s.Rings) != 1 || s.Rings[0].Name != name {
			t.Fatalf("%s alone: rings %+v", name, s.Rings)
		}
		matched := int(s.Rings[0].Jobs - s.Input.Unmatched - s.Input.Implied)
		var ioctl, ioctlBoth, both int
		for _, j := range truth.jobs {
			if j.ring != ri {
				continue
			}
			if j.queueIn {
				ioctl++
			}
			if j.queueIn && j.finishedIn {
				ioctlBoth++
			}
			if j.submitIn && j.finishedIn {
				both++
			}
		}
		t.Logf("%s: %d of %d jobs with both ends in the file matched (%.1f%%); %d amdgpu_cs_ioctl, %d of them with their finished fence; %d unmatched completions, %d implied",
			name, matched, both, 100*float64(matched)/float64(both), ioctl, ioctlBoth, s.Input.Unmatched, s.Input.Implied)
		if ioctlBoth == 0 {
			t.Fatalf("%s: the trace has no amdgpu_cs_ioctl job with its fence", name)
		}
		if float64(matched) < 0.95*float64(both) || matched > both {
			t.Errorf("%s: %d jobs matched, want ≥ 95%% of the %d with both ends in the file", name, matched, both)
		}
	}
	for _, par := range []int{1, 4} {
		s, st := analyzeFile(t, path, Options{Parallel: par})
		if st.Malformed != 0 || st.Unknown != 0 {
			t.Fatalf("parallel %d: %d malformed, %d unknown lines: %v", par, st.Malformed, st.Unknown, st.Warnings)
		}
		checkBareMetal(t, s, truth)
	}
}

func checkBareMetal(t *testing.T, s gaps.Snapshot, truth gen411Truth) {
	t.Helper()
	var both, finOnly, submitOnly int
	for _, j := range truth.jobs {
		switch {
		case j.submitIn && j.finishedIn:
			both++
		case j.finishedIn:
			finOnly++
		case j.submitIn:
			submitOnly++
		}
	}
	var jobs uint64
	for _, r := range s.Rings {
		jobs += r.Jobs
		if r.InFlight > 4 {
			t.Errorf("%s: %d jobs still in flight at the end", r.Name, r.InFlight)
		}
	}
	matched := int(jobs - s.Input.Unmatched - s.Input.Implied)
	t.Logf("all rings: %d of %d jobs with both ends matched; %d unmatched completions (%d finished fences without submission), %d implied (%d jobs without their fence); %d hardware fences, %d scheduler fences of no job seen",
		matched, both, s.Input.Unmatched, finOnly, s.Input.Implied, submitOnly, s.Input.FencesOther, s.Input.FencesUnmatched)
	if float64(matched) < 0.95*float64(both) || matched > both {
		t.Errorf("%d jobs matched, want ≥ 95%% of the %d with both ends", matched, both)
	}
	if int(s.Input.Unmatched) > finOnly || int(s.Input.Implied) > submitOnly {
		t.Errorf("%d unmatched (want ≤ %d), %d implied (want ≤ %d)", s.Input.Unmatched, finOnly, s.Input.Implied, submitOnly)
	}
	if s.Input.FencesOther == 0 || s.Input.FencesUnmatched == 0 {
		t.Errorf("hardware fences %d, unmatched scheduler fences %d: both kinds are in the trace", s.Input.FencesOther, s.Input.FencesUnmatched)
	}
	if s.Timeslice.Detected || s.SwitchedOutTotal != 0 {
		t.Errorf("bare metal: time slicing %+v, switched out %v", s.Timeslice, s.SwitchedOutTotal)
	}
	for _, w := range s.Windows {
		if w.Kind == gaps.SwitchedOut || w.Kind == gaps.Stall {
			t.Errorf("bare metal: %s window %d → %d (%v)", w.Kind, w.Start, w.End, w.Duration())
		}
		if w.Start < s.Input.CompleteFrom {
			t.Errorf("window %d → %d begins before the trace is complete (%d)", w.Start, w.End, s.Input.CompleteFrom)
		}
	}
	if s.StallTotal != 0 {
		t.Errorf("bare metal: stall total %v", s.StallTotal)
	}
	// From text, the last CPU's first event (soon after its buffer's start).
	if last := truth.cpuStart[len(truth.cpuStart)-1]; s.Input.CompleteFrom < last || s.Input.CompleteFrom > last+50_000_000 {
		t.Errorf("complete from %d, want the last CPU's start %d", s.Input.CompleteFrom, last)
	}
}
