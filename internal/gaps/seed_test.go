package gaps

import (
	"math"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// seedWindows is the table of the second seed article
// (/work/shared/seeds/002_f1e64ab855c96c9b.txt): a 1/2 S7150 guest traced
// with `trace-cmd record -e gpu_sched`; amd_sched_process_job events stop
// between these times (seconds).
var seedWindows = [][2]float64{
	{1437.803888, 1437.810159},
	{1437.816378, 1437.822720},
	{1437.829105, 1437.835127},
	{1437.841587, 1437.847506},
}

func sec(s float64) int64 { return int64(math.Round(s * 1e9)) }

// seedTrace builds gpu_sched events (Linux ≤ 4.15: amd_sched_job carries
// the ring, amd_sched_process_job only the fence) to the seed's table: jobs
// flow every ~spacing inside turns, a pipeline of depth 3 keeps work
// outstanding, and completions stop exactly over the table's windows.
func seedTrace(spacing time.Duration) []event.Event {
	// on-intervals: one turn before the first window, between windows, one after
	on := [][2]int64{{sec(1437.803888) - 6300e3, sec(1437.803888)}}
	for i := 0; i+1 < len(seedWindows); i++ {
		on = append(on, [2]int64{sec(seedWindows[i][1]), sec(seedWindows[i+1][0])})
	}
	last := seedWindows[len(seedWindows)-1][1]
	on = append(on, [2]int64{sec(last), sec(last) + 6200e3})
	var done []int64
	for _, iv := range on {
		n := int(math.Round(float64(iv[1]-iv[0]) / float64(spacing)))
		for k := 0; k <= n; k++ {
			done = append(done, iv[0]+int64(k)*(iv[1]-iv[0])/int64(n))
		}
	}
	const depth = 3
	fence := func(i int) uint64 { return 0xffff8802f5a1c000 + uint64(i%64)*0x80 }
	var evs []event.Event
	queue := func(t int64, i int) {
		evs = append(evs, event.Event{Time: t, CPU: 3, PID: 2211, Comm: "glxgears", Kind: event.KindQueue,
			Name: "gpu_sched:amd_sched_job", Ring: "gfx", Job: event.JobKey{Fence: fence(i)},
			Entity: 0xffff8802f8a10000, JobCount: 2, HWJobCount: 1})
	}
	start := on[0][0] - 200e3
	for i := 0; i < depth; i++ {
		queue(start, i)
	}
	for i, t := range done {
		evs = append(evs, event.Event{Time: t, CPU: 0, PID: 0, Comm: "<idle>", Kind: event.KindDone,
			Name: "gpu_sched:amd_sched_process_job", Job: event.JobKey{Fence: fence(i)}, JobCount: -1, HWJobCount: -1})
		queue(t, i+depth) // the completion frees a slot: the guest queues the next job
	}
	return evs
}

func TestSeedAcceptance(t *testing.T) {
	for _, sp := range []time.Duration{100 * time.Microsecond, 250 * time.Microsecond} {
		t.Run(sp.String(), func(t *testing.T) {
			e := New(Config{})
			feedAll(e, seedTrace(sp))
			s := e.Snapshot()
			var got [][2]int64
			for _, w := range s.Windows {
				if w.Kind != SwitchedOut {
					t.Errorf("window %v..%v is %s", w.Start, w.End, w.Kind)
					continue
				}
				got = append(got, [2]int64{w.Start, w.End})
			}
			if len(got) != len(seedWindows) {
				t.Fatalf("got %d switched-out windows, want %d: %v", len(got), len(seedWindows), got)
			}
			for i, w := range seedWindows {
				if got[i] != [2]int64{sec(w[0]), sec(w[1])} {
					t.Errorf("window %d = %v, want %v", i, got[i], w)
				}
			}
			ts := s.Timeslice
			t.Logf("%+v", ts)
			if !ts.Detected || ts.Mode != ModeFixed {
				t.Fatalf("not detected as fixed: %+v", ts)
			}
			if ts.Slice < 5500*time.Microsecond || ts.Slice > 6700*time.Microsecond {
				t.Errorf("slice %v, want near 6 ms", ts.Slice)
			}
			if ts.Period < 12300*time.Microsecond || ts.Period > 12600*time.Microsecond {
				t.Errorf("period %v, want ~12.45 ms", ts.Period)
			}
			if math.Abs(ts.ScheduleShare-0.5) > 0.05 {
				t.Errorf("share %.3f, want near 1/2", ts.ScheduleShare)
			}
			if ts.VFs != 2 {
				t.Errorf("VFs %d, want 2", ts.VFs)
			}
			if ts.Confidence <= 0 || ts.Confidence > 0.6 {
				t.Errorf("confidence %.2f: four windows are thin evidence", ts.Confidence)
			}
			if s.SwitchedOutTotal <= 24*time.Millisecond || s.SwitchedOutTotal > 25*time.Millisecond {
				t.Errorf("switched-out total %v, want 24.554 ms", s.SwitchedOutTotal)
			}
			if len(s.Rings) != 1 || s.Rings[0].Name != "gfx" || s.Rings[0].Stalled != s.SwitchedOutTotal {
				t.Errorf("rings %+v", s.Rings)
			}
		})
	}
}
