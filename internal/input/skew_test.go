package input

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
)

// skewedReport is a bare-metal trace of one gfx ring (1 ms jobs every
// 4 ms, Linux 4.16–6.16 gpu_scheduler events) whose jobs are queued and
// run on cpu0 and completed on cpu1, whose buffer starts 1 s late: for
// its first second the file holds submissions without completions.
func skewedReport() []byte {
	var b bytes.Buffer
	b.WriteString("cpus=2\n")
	const t0 = int64(100_000_000_000)
	const late = int64(1_000_000_000)
	line := func(t int64, cpu int, comm string, pid int, name, body string) {
		if cpu == 1 && t < t0+late {
			return // cpu1's buffer had not begun
		}
		fmt.Fprintf(&b, "%16s-%-5d [%03d] %d.%06d: %-21s %s\n", comm, pid, cpu, t/1e9, t%1e9/1000, name+":", body)
	}
	for i := int64(0); i < 750; i++ {
		t := t0 + i*4_000_000
		fence := 0xffff9a3b40000000 + uint64(i)*0x100
		job := fmt.Sprintf("entity=0xffff88812c4a0000, id=%d, fence=0x%x, ring=gfx, job count:0, hw job count:1", i+1, fence)
		line(t, 0, "glxgears", 2211, "drm_sched_job", job)
		line(t+20_000, 0, "gfx", 198, "drm_run_job", job)
		line(t+1_020_000, 1, "<idle>", 0, "drm_sched_process_job", fmt.Sprintf("fence=0x%x signaled", fence))
	}
	return b.Bytes()
}

// A CPU whose buffer begins 1 s late is not a stall: no window lies in
// the skewed span. Without the marker (the text reader straight into the
// engine) the same trace shows one.
func TestSkewNoWindow(t *testing.T) {
	data := skewedReport()
	path := filepath.Join(t.TempDir(), "skewed.report")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := analyzeFile(t, path, Options{})
	const from = int64(101_000_000_000)
	if s.Input.CompleteFrom < from || s.Input.CompleteFrom > from+2_000_000 {
		t.Fatalf("complete from %d, want cpu1's first event soon after %d", s.Input.CompleteFrom, from)
	}
	for _, w := range s.Windows {
		if w.Kind != gaps.GuestIdle || w.Start < from {
			t.Errorf("window %s %d → %d (%v)", w.Kind, w.Start, w.End, w.Duration())
		}
	}
	if s.Timeslice.Detected || s.StallTotal != 0 || s.SwitchedOutTotal != 0 {
		t.Errorf("skewed bare-metal trace: %+v, stall %v, switched out %v", s.Timeslice, s.StallTotal, s.SwitchedOutTotal)
	}

	raw := gaps.New(gaps.Config{})
	if err := event.DrainBatches(reporttext.NewReader(bytes.NewReader(data), "skewed"), raw.FeedBatch); err != nil {
		t.Fatal(err)
	}
	inSkew := 0
	for _, w := range raw.Snapshot().Windows {
		if w.Kind != gaps.GuestIdle && w.Start < from {
			inSkew++
		}
	}
	if inSkew == 0 {
		t.Errorf("without the marker no window in the skewed span either: the test shows nothing")
	}
}

// fakeStarter is a source that knows its CPUs' buffer starts (as a
// trace.dat does).
type fakeStarter struct {
	evs    []event.Event
	starts []int64
}

func (f *fakeStarter) Next() (event.Event, error) {
	if len(f.evs) == 0 {
		return event.Event{}, io.EOF
	}
	ev := f.evs[0]
	f.evs = f.evs[1:]
	return ev, nil
}

func (f *fakeStarter) CPUStarts() []int64 { return f.starts }

// From a source that knows the buffer starts, the marker carries the
// latest of them within MaxSkew, and the events follow unchanged; a
// source whose CPUs start together gets no marker.
func TestSkewFromCPUStarts(t *testing.T) {
	evs := []event.Event{{Time: 10, CPU: 0, Kind: event.KindQueue}, {Time: 20, CPU: 0, Kind: event.KindDone}}
	for _, c := range []struct {
		starts []int64
		want   int64
	}{{[]int64{5, 300_000_000}, 300_000_000}, {[]int64{5, 7}, 0}, {[]int64{5, 300_000_000, 30_000_000_000}, 300_000_000}} {
		s := NewSkew(&fakeStarter{evs: append([]event.Event(nil), evs...), starts: c.starts})
		var got []event.Event
		if err := event.Drain(s, func(ev event.Event) { got = append(got, ev) }); err != nil {
			t.Fatal(err)
		}
		rest := got
		if c.want != 0 {
			if len(got) == 0 || got[0].Kind != event.KindPartial || int64(got[0].Count) != c.want || got[0].Time != 10 {
				t.Fatalf("starts %v: first event %+v, want a partial marker from %d at 10", c.starts, got, c.want)
			}
			rest = got[1:]
		}
		if len(rest) != len(evs) || rest[0] != evs[0] || rest[1] != evs[1] {
			t.Errorf("starts %v: events %+v, want %+v", c.starts, rest, evs)
		}
		if s.CompleteFrom() != c.want {
			t.Errorf("CompleteFrom %d, want %d", s.CompleteFrom(), c.want)
		}
	}
}

// TestSkewMovedThread: in report text a CPU whose first GPU event comes
// late because the submitting thread moved there (the early span has its
// completions) is no late buffer: no marker, and every window stays.
func TestSkewMovedThread(t *testing.T) {
	var evs []event.Event
	var fence uint64
	for ts := int64(1e9); ts < 2e9; ts += 100_000 {
		cpu := int32(0)
		if ts >= 1.3e9 {
			cpu = 1 // the thread moved
		}
		fence++
		evs = append(evs,
			event.Event{Time: ts, CPU: cpu, Kind: event.KindQueue, Ring: "gfx", Job: event.JobKey{Fence: fence}},
			event.Event{Time: ts + 50_000, CPU: 0, Kind: event.KindDone, Job: event.JobKey{Fence: fence}})
	}
	// report text: the source knows no buffer starts
	s := NewSkew(struct{ event.Source }{&fakeStarter{evs: evs}})
	var got []event.Event
	if err := event.Drain(s, func(ev event.Event) { got = append(got, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Kind == event.KindPartial || s.CompleteFrom() != 0 {
		t.Errorf("a moved thread gave a marker: complete from %d", s.CompleteFrom())
	}
	if !missingCompletions([]event.Event{{Time: 1, Kind: event.KindQueue, Job: event.JobKey{Fence: 1}}, {Time: 2, Kind: event.KindQueue, Job: event.JobKey{Fence: 2}}}, 10) {
		t.Errorf("submissions without completions are a missing CPU")
	}
}
