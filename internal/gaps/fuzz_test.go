package gaps

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// decodeEvents turns fuzz bytes into an event stream: 8 bytes per event
// (time step, kind, ring, job, flags).
func decodeEvents(data []byte) []event.Event {
	var evs []event.Event
	var t int64 = 1e9
	rings := []string{"gfx", "sdma0", "comp_1.0.0", ""}
	for len(data) >= 8 {
		step := int64(binary.LittleEndian.Uint16(data[0:2])) * 997 // up to ~65 ms
		if data[7]&0x80 != 0 {
			step = -step / 8 // occasionally out of order
		}
		t += step
		// kinds beyond the known ones (a newer source) must be ignored
		ev := event.Event{Time: t, Kind: event.Kind(data[2] % uint8(event.NumKinds+2)), Ring: rings[data[3]%4],
			Comm: "p", PID: int32(data[6] % 3), Entity: uint64(data[6] % 2)}
		switch (data[3] >> 2) % 4 {
		case 1:
			ev.Name = "dma_fence:dma_fence_signaled"
			if ev.Kind == event.KindQueue || ev.Kind == event.KindRun {
				ev.Name = "dma_fence:dma_fence_emit"
			}
			// the scheduler's fences, hardware fences, another driver's
			ev.Driver = []string{"amd_sched", "drm_sched", "amdgpu", "i915"}[data[6]%4]
		case 2:
			ev.Name = "gpu_sched:amd_sched_job"
		case 3:
			if data[6]&4 != 0 {
				ev.Name = "amdgpu:amdgpu_cs_ioctl"
			}
		}
		if data[7]&1 != 0 {
			ev.Job = event.JobKey{Context: 1, Seqno: uint64(binary.LittleEndian.Uint16(data[4:6]) % 64)}
		} else {
			ev.Job = event.JobKey{Fence: uint64(binary.LittleEndian.Uint16(data[4:6]) % 64)}
		}
		if ev.Kind == event.KindLost {
			ev.Count = uint64(data[4])
		}
		if ev.Kind == event.KindPartial {
			ev.Count = uint64(t + int64(data[4])*1e6) // complete some ms later
		}
		evs = append(evs, ev)
		data = data[8:]
	}
	return evs
}

func checkSnapshot(t *testing.T, s *Snapshot) {
	t.Helper()
	for _, ts := range []Timeslice{s.Timeslice, s.Recent} {
		if ts.Confidence < 0 || ts.Confidence > 1 || math.IsNaN(ts.ScheduleShare) {
			t.Fatalf("bad timeslice %+v", ts)
		}
		if !ts.Detected && (ts.Slice != 0 || ts.Period != 0 || ts.Reason == "") {
			t.Fatalf("undetected timeslice with numbers or no reason: %+v", ts)
		}
	}
	for i, w := range s.Windows {
		if w.End < w.Start {
			t.Fatalf("window %+v ends before it starts", w)
		}
		if i > 0 && w.End < s.Windows[i-1].End {
			t.Fatalf("windows out of order: %+v after %+v", w, s.Windows[i-1])
		}
	}
	for i := 1; i < len(s.Rings); i++ {
		if s.Rings[i].Name < s.Rings[i-1].Name {
			t.Fatal("rings not sorted")
		}
	}
	for _, r := range s.Rings {
		if r.Busy < 0 || r.Stalled < 0 || r.InFlight < 0 {
			t.Fatalf("ring %+v", r)
		}
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatalf("snapshot does not marshal: %v", err)
	}
}

func FuzzEngine(f *testing.F) {
	f.Add([]byte("\x10\x00\x01\x00\x01\x00\x00\x00\x10\x00\x03\x00\x01\x00\x00\x00"))
	var b builder
	var fe uint64
	switched(&b, 0, 3, &fe)
	seed := make([]byte, 0, 8*len(b.evs))
	for _, ev := range b.evs[:min(len(b.evs), 300)] {
		seed = append(seed, 100, 0, byte(ev.Kind), 0, byte(ev.Job.Fence), 0, 0, 0)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(Config{Horizon: time.Second, MaxJobAge: 200 * time.Millisecond})
		for i, ev := range decodeEvents(data) {
			e.Feed(ev)
			if i%50 == 0 {
				checkSnapshot(t, e.Snapshot())
			}
		}
		e.Advance(e.end + int64(time.Second))
		checkSnapshot(t, e.Snapshot())
		if e.jobs.len() > 64*2 {
			t.Fatalf("%d jobs followed with 128 possible keys", e.jobs.len())
		}
	})
}
