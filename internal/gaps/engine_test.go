package gaps

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

func feedAll(e *Engine, evs []event.Event) {
	for _, ev := range evs {
		e.Feed(ev)
	}
}

func (e *Engine) feedAll(evs []event.Event) *Engine {
	feedAll(e, evs)
	return e
}

// TestScenarioQuick holds the engine to the simulator's truth on a few
// small scenarios: fixed schedules of 2 to 16 VFs with constant,
// exponential and uniform jobs and frame-paced work, a variable schedule,
// passthrough and jobs longer than the slice.
func TestScenarioQuick(t *testing.T) {
	const us = time.Microsecond
	cases := []struct {
		sc               scenario
		mode             Mode // ModeNone: nothing detected
		sliceTol, perTol float64
		minConf          float64
		reason           string // part of the reason when nothing is detected ("a|b": either)
	}{
		{scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * us, Job: 300 * us, JobDist: "const", Depth: 4, Duration: 2 * time.Second, Seed: 1}, ModeFixed, 0.005, 0.001, 0.9, ""},
		{scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * us, Job: 300 * us, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 2}, ModeFixed, 0.005, 0.001, 0.9, ""},
		{scenario{VFs: 4, Slice: 3 * time.Millisecond, Cost: 200 * us, Job: 200 * us, JobDist: "uniform", Depth: 4, Duration: 2 * time.Second, Seed: 3}, ModeFixed, 0.005, 0.001, 0.9, ""},
		{scenario{VFs: 16, Slice: 1 * time.Millisecond, Cost: 200 * us, Job: 50 * us, JobDist: "uniform", Depth: 4, Duration: 2 * time.Second, Seed: 4}, ModeFixed, 0.005, 0.001, 0.9, ""},
		{scenario{VFs: 2, Slice: 12 * time.Millisecond, Cost: 200 * us, Job: 1 * time.Millisecond, JobDist: "uniform", Frames: 16667 * us, FrameJobs: 6, Duration: 3 * time.Second, Seed: 5}, ModeFixed, 0.005, 0.001, 0.9, ""},
		// variable: the period is the mean turn-to-turn time; its error
		// bars, from few busy turns, keep the confidence low
		{scenario{VFs: 4, Slice: 6 * time.Millisecond, Cost: 200 * us, Job: 300 * us, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 6, Variable: true, SkipProb: 0.3}, ModeVariable, 0.01, 0.005, 0, ""},
		{scenario{Passthrough: true, Job: 300 * us, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 7}, ModeNone, 0, 0, 0, "no switch-out seen"},
		// jobs longer than the slice: the reason names them, whether the
		// no-progress gaps still cluster ("too long") or not (about one
		// seed in three: the completions' spacing is "longer than a
		// slice")
		{scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * us, Job: 8 * time.Millisecond, JobDist: "uniform", Depth: 2, Duration: 2 * time.Second, Seed: 8}, ModeNone, 0, 0, 0, "too long|longer than a slice"},
	}
	for i, c := range cases {
		sc := c.sc
		evs, tr := sc.run(t)
		s := New(Config{}).feedAll(evs).Snapshot()
		ts := s.Timeslice
		if ts.Mode != c.mode || ts.Detected != (c.mode != ModeNone) {
			t.Errorf("%d: mode %s (detected %v), want %s: %s", i, ts.Mode, ts.Detected, c.mode, ts.Reason)
			continue
		}
		if c.mode == ModeNone {
			if !slices.ContainsFunc(strings.Split(c.reason, "|"), func(r string) bool { return strings.Contains(ts.Reason, r) }) {
				t.Errorf("%d: reason %q, want it to say %q", i, ts.Reason, c.reason)
			}
			for _, w := range s.Windows {
				if w.Kind == SwitchedOut {
					t.Errorf("%d: nothing detected, yet a switched-out window [%d, %d]", i, w.Start, w.End)
					break
				}
			}
			continue
		}
		if e := relErr(ts.Slice, tr.slice); e > c.sliceTol {
			t.Errorf("%d: slice %v, true %v (%.2f%%)", i, ts.Slice, tr.slice, 100*e)
		}
		if e := relErr(ts.Period, tr.period); e > c.perTol {
			t.Errorf("%d: period %v, true mean %v (%.2f%%)", i, ts.Period, tr.period, 100*e)
		}
		if ts.VFs != sc.VFs {
			t.Errorf("%d: %d VFs, want %d", i, ts.VFs, sc.VFs)
		}
		// The switch cost: period/VFs less the slice on a fixed schedule,
		// the slot less the slice on a variable one (its mean period
		// counts skipped neighbours), each as exact as the slice.
		tol := max(50*us, time.Duration(c.sliceTol*float64(sc.Slice)))
		if d := ts.SwitchCost - sc.Cost; d < -tol || d > tol {
			t.Errorf("%d: switch cost %v, true %v", i, ts.SwitchCost, sc.Cost)
		}
		if ts.Confidence < c.minConf {
			t.Errorf("%d: confidence %.2f < %.2f", i, ts.Confidence, c.minConf)
		}
		if f1, p, r := windowF1(s.Windows, tr); f1 < 0.99 {
			t.Errorf("%d: window F1 %.3f (precision %.3f, recall %.3f)", i, f1, p, r)
		}
	}
}

// TestFeedBatchIsFeed: feeding blocks of events gives the snapshot that
// feeding them one by one does, and leaves the events as they were.
func TestFeedBatchIsFeed(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 100 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 3, Gen617: true}
	evs, _ := sc.run(t)
	keep := slices.Clone(evs)
	one := New(Config{}).feedAll(evs)
	batched := New(Config{})
	for i := 0; i < len(evs); i += 777 {
		batched.FeedBatch(evs[i:min(i+777, len(evs))])
	}
	if !slices.Equal(evs, keep) {
		t.Fatal("FeedBatch modified its events")
	}
	a, b := one.Snapshot(), batched.Snapshot()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("FeedBatch snapshot differs from Feed's:\n%+v\n%+v", b.Timeslice, a.Timeslice)
	}
	if a.Input.Events == 0 || len(a.Windows) == 0 {
		t.Fatalf("scenario gave %d events, %d windows", a.Input.Events, len(a.Windows))
	}
}
