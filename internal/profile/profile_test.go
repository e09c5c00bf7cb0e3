package profile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

// analyse runs the engine on a 2-VF pattern with two tasks on gfx and one
// on sdma0: 6 ms on, 6.4 ms off.
func analyse(turns int) *gaps.Snapshot {
	e := gaps.New(gaps.Config{})
	t := int64(5e9)
	var fence uint64 = 0x1000
	job := func(ring, comm string, pid int32, at, dur int64) {
		fence += 0x40
		e.Feed(event.Event{Time: at, Kind: event.KindQueue, Name: "gpu_scheduler:drm_sched_job", Ring: ring, Comm: comm, PID: pid, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		_ = dur
	}
	type pend struct {
		f  uint64
		at int64
	}
	var out []pend
	for i := 0; i < turns; i++ {
		end := t + 6e6
		for ; t+250e3 <= end; t += 250e3 {
			for _, p := range out {
				e.Feed(event.Event{Time: t, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: p.f}, JobCount: -1, HWJobCount: -1})
			}
			out = out[:0]
			if (t/250e3)%3 == 0 {
				job("sdma0", "Xorg", 900, t+1, 0)
			} else if (t/250e3)%3 == 1 {
				job("gfx", "glmark2", 1234, t+1, 0)
			} else {
				job("gfx", "vkmark", 77, t+1, 0)
			}
			out = append(out, pend{fence, t})
		}
		t += 6.4e6
	}
	for _, p := range out {
		e.Feed(event.Event{Time: t, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: p.f}, JobCount: -1, HWJobCount: -1})
	}
	return e.Snapshot()
}

func TestProfileTotalsMatchAnalysis(t *testing.T) {
	s := analyse(60)
	var busy, stalled time.Duration
	for _, r := range s.Rings {
		busy += r.Busy
		stalled += r.Stalled
	}
	if stalled == 0 || len(s.Rings) != 2 {
		t.Fatalf("pattern gave %d rings and %v stalled: the test needs both", len(s.Rings), stalled)
	}
	var buf bytes.Buffer
	if err := Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("reading the profile back: %v", err)
	}
	var gotBusy, gotStalled int64
	perRing := map[string][2]int64{}
	tasks := map[string]bool{}
	for _, sm := range p.Sample {
		gotBusy += sm.Value[0]
		gotStalled += sm.Value[1]
		n := len(sm.Location)
		ring := sm.Location[n-1].Line[0].Function.Name
		tasks[sm.Location[n-2].Line[0].Function.Name] = true
		state := sm.Location[0].Line[0].Function.Name
		if state != "running" && state != "switched_out" {
			t.Errorf("leaf frame %q", state)
		}
		if state == "running" && sm.Value[1] != 0 {
			t.Errorf("running sample carries stalled time %d", sm.Value[1])
		}
		v := perRing[ring]
		v[0] += sm.Value[0]
		v[1] += sm.Value[1]
		perRing[ring] = v
	}
	if gotBusy != int64(busy) || gotStalled != int64(stalled) {
		t.Errorf("profile totals gpu_time %d stalled %d, analysis busy %d stalled %d", gotBusy, gotStalled, busy, stalled)
	}
	for _, r := range s.Rings {
		if v := perRing["ring "+r.Name]; v[0] != int64(r.Busy) || v[1] != int64(r.Stalled) {
			t.Errorf("ring %s: profile %v, analysis busy %d stalled %d", r.Name, v, r.Busy, r.Stalled)
		}
	}
	for _, want := range []string{"glmark2 (1234)", "vkmark (77)", "Xorg (900)"} {
		if !tasks[want] {
			t.Errorf("task frame %q missing (have %v)", want, tasks)
		}
	}
}

// TestPprofTop runs the real `go tool pprof -top` on the written profile.
func TestPprofTop(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		livetest.Skip(t, "go tool not in PATH")
	}
	path := filepath.Join(t.TempDir(), "gpu.pb.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, analyse(30)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(gobin, "tool", "pprof", "-top", "-sample_index=stalled", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "switched_out") || !strings.Contains(string(out), "ring gfx") {
		t.Errorf("pprof -top does not show where time was lost:\n%s", out)
	}
}

func TestEmptySnapshot(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, gaps.New(gaps.Config{}).Snapshot()); err != nil {
		t.Fatal(err)
	}
	if _, err := profile.Parse(&buf); err != nil {
		t.Fatal(err)
	}
}
