package gaps

import (
	"reflect"
	"slices"
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

func TestScenarioQuick(t *testing.T) {
	cases := []scenario{
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "const", Depth: 4, Duration: 2 * time.Second, Seed: 1},
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 2},
		{VFs: 4, Slice: 3 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 200 * time.Microsecond, JobDist: "unif", Depth: 4, Duration: 2 * time.Second, Seed: 3},
		{VFs: 16, Slice: 1 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 50 * time.Microsecond, JobDist: "unif", Depth: 4, Duration: 2 * time.Second, Seed: 4},
		{VFs: 2, Slice: 12 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 1 * time.Millisecond, JobDist: "unif", Frames: 16667 * time.Microsecond, FrameJobs: 6, Duration: 3 * time.Second, Seed: 5},
		{VFs: 4, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 6, Variable: true, SkipProb: 0.3},
		{Passthrough: true, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 7},
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 8 * time.Millisecond, JobDist: "unif", Depth: 2, Duration: 2 * time.Second, Seed: 8},
	}
	for i, sc := range cases {
		evs, tr := sc.generate()
		e := New(Config{})
		feedAll(e, evs)
		s := e.Snapshot()
		ts := s.Timeslice
		f1, p, r := windowF1(s.Windows, tr)
		if sc.Passthrough {
			t.Logf("%d passthrough: det=%v reason=%q windows=%d th=%v", i, ts.Detected, ts.Reason, len(s.Windows), s.Threshold)
			continue
		}
		sl, per, sh := sc.trueSchedule()
		t.Logf("%d: det=%v mode=%s conf=%.2f slice=%v(true %v, %.2f%%) period=%v(true %v, %.2f%%) share=%.4f(true %.4f) vfs=%d c=%v n=%d F1=%.3f p=%.3f r=%.3f th=%v reason=%q",
			i, ts.Detected, ts.Mode, ts.Confidence, ts.Slice, sl, 100*relErr(ts.Slice, sl), ts.Period, per, 100*relErr(ts.Period, per), ts.ScheduleShare, sh, ts.VFs, ts.SwitchCost, ts.Windows, f1, p, r, s.Threshold, ts.Reason)
	}
}

// TestFeedBatchIsFeed: feeding blocks of events gives the snapshot that
// feeding them one by one does, and leaves the events as they were.
func TestFeedBatchIsFeed(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 100 * time.Microsecond, JobDist: "exp", Depth: 4, Duration: 2 * time.Second, Seed: 3, Gen617: true}
	evs, _ := sc.generate()
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
