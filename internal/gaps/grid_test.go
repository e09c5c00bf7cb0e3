package gaps

import (
	"fmt"
	"math"
	"testing"
	"time"
)

type gridResult struct {
	sc                  scenario
	det                 bool
	conf                float64
	sliceErr, periodErr float64 // relative
	shareErr            float64 // absolute
	f1, prec, rec       float64
	vfsOK               bool
	mode                Mode
	reason              string
}

func runScenario(t *testing.T, sc scenario) gridResult {
	evs, tr := sc.run(t)
	s := New(Config{}).feedAll(evs).Snapshot()
	ts := s.Timeslice
	r := gridResult{sc: sc, det: ts.Detected, conf: ts.Confidence, mode: ts.Mode, reason: ts.Reason}
	r.f1, r.prec, r.rec = windowF1(s.Windows, tr)
	if sc.Passthrough {
		return r
	}
	r.sliceErr = relErr(ts.Slice, tr.slice)
	r.periodErr = relErr(ts.Period, tr.period)
	r.shareErr = math.Abs(ts.ScheduleShare - tr.share)
	r.vfsOK = ts.VFs == sc.VFs
	return r
}

func gridScenarios() []scenario {
	var out []scenario
	seed, heavySeed := uint64(100), uint64(1000)
	for _, vfs := range []int{2, 4, 8, 16} {
		for _, sl := range []time.Duration{1, 3, 6, 12} {
			slice := sl * time.Millisecond
			for _, wl := range []string{"sat-const", "sat-exp", "sat-unif", "sat-heavy", "frames"} {
				for _, variable := range []bool{false, true} {
					// heavy jobs were added later: their own seeds keep
					// the other scenarios' seeds (and results) as they were
					var sd uint64
					if wl == "sat-heavy" {
						heavySeed++
						sd = heavySeed
					} else {
						seed++
						sd = seed
					}
					sc := scenario{VFs: vfs, Slice: slice, Cost: 200 * time.Microsecond, Duration: 4 * time.Second, Seed: sd, Gen617: sd%2 == 0}
					if variable {
						sc.Variable, sc.SkipProb = true, 0.3
					}
					job := slice / 20
					switch wl {
					case "sat-const":
						sc.Job, sc.JobDist, sc.Depth = job, "const", 3
					case "sat-exp":
						sc.Job, sc.JobDist, sc.Depth = job, "exp", 3
					case "sat-unif":
						sc.Job, sc.JobDist, sc.Depth = job, "uniform", 3
					case "sat-heavy":
						// exponential jobs averaging a sixth of the slice
						sc.Job, sc.JobDist, sc.Depth = slice/6, "exp", 3
					case "frames":
						sc.Frames = 16667 * time.Microsecond
						sc.Job, sc.JobDist = 500*time.Microsecond, "uniform"
						sc.FrameJobs = 4
					}
					out = append(out, sc)
				}
			}
		}
	}
	return out
}

func (r gridResult) String() string {
	sc := r.sc
	wl := sc.JobDist
	if sc.Job == sc.Slice/6 {
		wl = "heavy"
	}
	if sc.Frames > 0 {
		wl = "frames"
	}
	return fmt.Sprintf("vfs=%2d slice=%4.1fms var=%-5v %-6s det=%-5v mode=%-8s conf=%.2f slice%%=%6.2f period%%=%6.2f share=%5.2fpp F1=%.3f (P=%.3f R=%.3f) vfs=%v %s",
		sc.VFs, float64(sc.Slice)/1e6, sc.Variable, wl, r.det, r.mode, r.conf, 100*r.sliceErr, 100*r.periodErr, 100*r.shareErr, r.f1, r.prec, r.rec, r.vfsOK, r.reason)
}

// TestGrid runs the scenario grid (160 scenarios of 2 to 16 VFs, 1 to
// 12 ms slices, fixed and variable hosts, saturating and frame-paced
// guests) against the simulator's truth. Every saturating guest on a
// fixed host meets the accuracy targets (slice and period within 1 %,
// share within 0.5 pp, window F1 ≥ 0.98, the VF count right), those with
// heavy jobs (a sixth of the slice, exponential) when the engine is
// confident (0.5 or more): with 8 or 16 VFs a 4 s trace holds 20 to 80
// turns, and over 20 seeds per cell (8 and 16 VFs × 6 and 12 ms) the
// slice misses 1 % on up to 17 of them (16 × 12 ms; with this simulator
// and with the generator the test had before alike), each time at a
// confidence below 0.5. On the rest, an estimate with a confidence of 0.5
// or more is never more than 2 % off. (cmd/accuracy is the full gate: every host model and trace
// format.)
func TestGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("the grid takes a few seconds")
	}
	for _, sc := range gridScenarios() {
		r := runScenario(t, sc)
		met := r.det && r.sliceErr <= 0.01 && r.periodErr <= 0.01 && r.shareErr <= 0.005 && r.f1 >= 0.98 && r.vfsOK
		switch {
		case !sc.Variable && sc.Frames == 0 && !met && (sc.Job != sc.Slice/6 || r.conf >= 0.5):
			t.Errorf("saturating fixed scenario misses the targets: %s", r)
		case r.det && r.conf >= 0.5 && (r.sliceErr > 0.02 || r.periodErr > 0.02):
			t.Errorf("confident estimate more than 2 %% off: %s", r)
		}
	}
}
