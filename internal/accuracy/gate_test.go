package accuracy

import (
	"runtime"
	"sync"
	"testing"
)

// TestGridGate runs the whole grid end to end (simulate, write report
// text, read it back, analyse, score) and holds every run to what a
// tenant must be able to trust whatever the host: no verdict passing
// above the share the VF truly held, none failing 8 pp below it where
// jobs are short, no switch-out claimed in guest idle or in a vCPU steal
// episode, no confident wrong number; and, over all detected runs, the
// truth within estimate ± 2·error in at least TargetCoverage of them for
// the share, the slice and the period.
func TestGridGate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole grid")
	}
	g := Grid()
	res := make([]Result, len(g))
	errs := make([]error, len(g))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				res[i], errs[i] = Evaluate(g[i])
			}
		})
	}
	for i := range g {
		next <- i
	}
	close(next)
	wg.Wait()
	var share, slice, period Coverage
	for i, r := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch {
		case r.PassAbove:
			t.Errorf("%s: the verdict passes %.3f, above the held share %.3f", r.Scenario, r.PassExpect, r.HeldShare)
		case r.FailBelow:
			t.Errorf("%s: the verdict does not pass 8 pp below the held share %.3f", r.Scenario, r.HeldShare)
		case r.FalseInIdle > 0 || r.FalseInSteal > 0:
			t.Errorf("%s: %d switch-outs claimed in guest idle, %d in steal", r.Scenario, r.FalseInIdle, r.FalseInSteal)
		case r.ConfidentWrong():
			t.Errorf("%s: confidence %.2f with slice %.2f %%, period %.2f %%, share %.2f pp off", r.Scenario, r.Confidence, r.SliceErr, r.PeriodErr, r.ShareErr)
		}
		share.add(r.ShareCover)
		slice.add(r.SliceCover)
		period.add(r.PeriodCover)
	}
	for _, c := range []struct {
		name string
		c    Coverage
	}{{"share", share}, {"slice", slice}, {"period", period}} {
		if c.c.N == 0 || float64(c.c.Within) < TargetCoverage*float64(c.c.N) {
			t.Errorf("%s: the truth within ± 2 errors in %d of %d runs, want %.0f %%", c.name, c.c.Within, c.c.N, 100*TargetCoverage)
		}
	}
	t.Logf("coverage: share %d/%d, slice %d/%d, period %d/%d", share.Within, share.N, slice.Within, slice.N, period.Within, period.N)
}
