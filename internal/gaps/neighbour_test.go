package gaps_test

import (
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/accuracy"
)

// TestNeighbourOnOff: a work-conserving host whose one neighbour is busy
// 300 ms, idle 200 ms. While it idles our turns come back to back with
// only a switch cost between them (too short to see), so busy stretches
// pass without a window. That is no fixed schedule: the estimate fitted
// to the busy stretches alone (mode fixed, confidence 0.96) put the
// period 40 % and the share 18 pp off. Now: variable mode, the windowless
// turns counted, the schedule within the accuracy targets.
func TestNeighbourOnOff(t *testing.T) {
	const name = "saturating-skip-2vf-3ms-saturate-uniform-4.16us-onoff"
	for _, sc := range accuracy.Grid() {
		if sc.Name != name {
			continue
		}
		r, err := accuracy.Evaluate(sc)
		if err != nil {
			t.Fatal(err)
		}
		if r.ConfidentWrong() || !r.ModeOK || r.SliceErr > accuracy.TargetSliceErr || r.PeriodErr > accuracy.TargetPeriodErr ||
			r.ScheduleShareErr > accuracy.TargetShareErr || r.F1 < accuracy.TargetF1 {
			t.Fatalf("%s: %+v", name, r)
		}
		return
	}
	t.Fatalf("scenario %s not in the grid", name)
}
