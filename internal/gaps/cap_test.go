package gaps

import (
	"fmt"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// TestRingAndTaskCaps: rings beyond maxRings and tasks beyond maxProcs go
// to "(other)", and what went there is counted.
func TestRingAndTaskCaps(t *testing.T) {
	e := New(Config{})
	const rings, tasks = maxRings + 500, maxProcs + 30
	tt := int64(1e9)
	fence := uint64(0x1000)
	for i := 0; i < rings; i++ {
		fence += 0x40
		tt += 1000
		e.Feed(event.Event{Time: tt, Kind: event.KindRun, Ring: fmt.Sprintf("ring%d", i), Comm: "p", PID: 1, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		tt += 1000
		e.Feed(event.Event{Time: tt, Kind: event.KindDone, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
	}
	for i := 0; i < tasks; i++ {
		fence += 0x40
		tt += 1000
		e.Feed(event.Event{Time: tt, Kind: event.KindRun, Ring: "ring0", Comm: "p", PID: int32(100 + i), Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		tt += 1000
		e.Feed(event.Event{Time: tt, Kind: event.KindDone, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
	}
	s := e.Snapshot()
	if len(s.Rings) != maxRings+1 {
		t.Errorf("%d rings, want %d and (other)", len(s.Rings), maxRings)
	}
	if s.Input.RingsCapped != rings-maxRings {
		t.Errorf("RingsCapped %d, want %d", s.Input.RingsCapped, rings-maxRings)
	}
	// ring0 has task 1 and tasks 100...: the first maxProcs-1 of those fit.
	if want := uint64(tasks - (maxProcs - 1)); s.Input.TasksCapped != want {
		t.Errorf("TasksCapped %d, want %d", s.Input.TasksCapped, want)
	}
	var other bool
	for _, r := range s.Rings {
		if r.Name == otherName {
			other = r.Jobs == rings-maxRings
		}
	}
	if !other {
		t.Errorf("no (other) ring with the capped rings' %d jobs", rings-maxRings)
	}
}
