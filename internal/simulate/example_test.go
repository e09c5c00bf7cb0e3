package simulate_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// A half of an AMD S7150 (2 VFs, 6 ms slices, strict round robin) with a
// saturating gfx benchmark: stream the events, get the truth.
func ExampleRun() {
	sc := simulate.Scenario{
		VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Strict, Duration: time.Second, Seed: 1,
		Rings: []simulate.Ring{{Name: "gfx", Job: simulate.Dist{Kind: "uniform", Mean: 300 * time.Microsecond}}},
	}
	done := 0
	tr, err := simulate.Run(sc, func(ev event.Event) error {
		if ev.Kind == event.KindDone {
			done++
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("slice %v period %v share %.3f windows %d\n", tr.SliceDuration(), tr.PeriodDuration(), tr.Share, len(tr.Windows))
	fmt.Println(done > 1000)
	// Output:
	// slice 6ms period 12.4ms share 0.484 windows 80
	// true
}

// WriteReport writes the same run as `trace-cmd report` text.
func ExampleWriteReport() {
	sc := simulate.Scenario{
		VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, Policy: simulate.Strict,
		Duration: 10 * time.Millisecond, Seed: 1, Gen: tracepoint.Gen617, Nanoseconds: true,
		Rings: []simulate.Ring{{Name: "gfx", Job: simulate.Dist{Kind: "const", Mean: 2 * time.Millisecond}}},
	}
	var b strings.Builder
	if _, err := simulate.WriteReport(&b, sc, "", nil); err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(b.String(), "drm_sched_job_done:"), strings.Count(b.String(), "ring=gfx"))
	// Output: 2 4
}

// A host outage: 1.5 s without a turn in 6 s of a 1/2 host. The VF held
// the GPU for about 36% of the time its guest had work, though its turns,
// when it gets them, are 6 ms of every 12.4 ms.
func ExampleScenario_outage() {
	sc := simulate.Scenario{
		VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Strict, Duration: 6 * time.Second, Seed: 1,
		Outages: []simulate.Outage{{At: 2 * time.Second, Len: 1500 * time.Millisecond, Kind: "outage"}},
		Rings:   []simulate.Ring{{Name: "gfx", Job: simulate.Dist{Kind: simulate.Uniform, Mean: 300 * time.Microsecond}}},
	}
	tr, err := simulate.Run(sc, func(event.Event) error { return nil })
	if err != nil {
		panic(err)
	}
	fmt.Printf("share %.3f held share %.3f outage %.1f s\n", tr.Share, tr.HeldShare, tr.Outages[0].End-tr.Outages[0].Start)
	// Output:
	// share 0.363 held share 0.364 outage 1.5 s
}

// A liquid host (GIM 3.0 liquid): the neighbour has work in 70% of the
// rounds; when it has none our VF keeps the GPU for another whole 6 ms
// quantum, so its turns are multiples of the quantum and further apart.
func ExampleScenario_liquid() {
	sc := simulate.Scenario{
		VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond,
		Policy: simulate.Liquid, Neighbours: []simulate.Neighbour{{Load: 0.7}}, Duration: 3 * time.Second, Seed: 1,
		Rings: []simulate.Ring{{Name: "gfx", Job: simulate.Dist{Kind: simulate.Uniform, Mean: 300 * time.Microsecond}}},
	}
	tr, err := simulate.Run(sc, func(event.Event) error { return nil })
	if err != nil {
		panic(err)
	}
	fmt.Printf("quantum %.0f ms, mean turn %.1f ms, turn to turn %.1f ± %.1f ms, held share %.2f\n",
		tr.Quantum*1e3, tr.Slice*1e3, tr.Period*1e3, tr.PeriodStd*1e3, tr.HeldShare)
	// Output:
	// quantum 6 ms, mean turn 8.2 ms, turn to turn 14.6 ± 4.0 ms, held share 0.56
}
