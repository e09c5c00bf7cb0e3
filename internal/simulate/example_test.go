package simulate_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
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
		Duration: 10 * time.Millisecond, Seed: 1, Gen: tracefs.Gen617, Nanoseconds: true,
		Rings: []simulate.Ring{{Name: "gfx", Job: simulate.Dist{Kind: "const", Mean: 2 * time.Millisecond}}},
	}
	var b strings.Builder
	if _, err := simulate.WriteReport(&b, sc, "", nil); err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(b.String(), "drm_sched_job_done:"), strings.Count(b.String(), "ring=gfx"))
	// Output: 2 4
}
