package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

const ms = int64(time.Millisecond)

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Dur(0), "0"},
		{Dur(512), "512ns"},
		{Dur(250 * time.Microsecond), "250µs"},
		{Dur(6020 * time.Microsecond), "6.02ms"},
		{Dur(12400 * time.Microsecond), "12.4ms"},
		{Dur(1500 * time.Millisecond), "1.5s"},
		{Dur(-2 * time.Millisecond), "-2ms"},
		{Count(950), "950"},
		{Count(12345), "12.3k"},
		{Count(1.5e6), "1.5M"},
		{Count(-1), "?"},
		{Pct(time.Second, 4*time.Second), "25.0%"},
		{Pct(time.Second, 0), "-"},
		{Uptime(83 * time.Second), "1:23"},
		{Uptime(3723 * time.Second), "1:02:03"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// windows: 0–100 ms of trace; switched out 10–16 and 40–46, idle 60–80,
// open switched-out window 95–100.
func windowsSnap() *gaps.Snapshot {
	return &gaps.Snapshot{
		Start: 0, End: 100 * ms,
		Windows: []gaps.Window{
			{Start: 10 * ms, End: 16 * ms, Kind: gaps.SwitchedOut},
			{Start: 40 * ms, End: 46 * ms, Kind: gaps.SwitchedOut},
			{Start: 60 * ms, End: 80 * ms, Kind: gaps.GuestIdle},
			{Start: 95 * ms, End: 100 * ms, Kind: gaps.SwitchedOut, Open: true},
		},
		Timeslice: gaps.Timeslice{Detected: true, ScheduleShare: 0.5},
	}
}

func cellsString(cs []Cell) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteByte(" AOIS"[c])
	}
	return b.String()
}

func TestStripCells(t *testing.T) {
	m := New(Options{})
	m.Update(windowsSnap(), live.Stats{})
	m.SetStep(time.Millisecond)
	st := m.Strip(120)
	want := strings.Repeat(" ", 20) + // before the trace start
		strings.Repeat("A", 10) + strings.Repeat("O", 6) + strings.Repeat("A", 24) +
		strings.Repeat("O", 6) + strings.Repeat("A", 14) + strings.Repeat("I", 20) +
		strings.Repeat("A", 15) + strings.Repeat("O", 5)
	if got := cellsString(st.Cells); got != want {
		t.Errorf("cells\n got %q\nwant %q", got, want)
	}
	if st.NowCell != CellSwitchedOut || st.Now != "now: switched out for 5ms" {
		t.Errorf("now = %v %q", st.NowCell, st.Now)
	}
	if st.Step != time.Millisecond || st.Title != "1ms/cell · last 120ms" {
		t.Errorf("step %v title %q", st.Step, st.Title)
	}
	if len([]rune(st.Axis)) != 120 || !strings.HasPrefix(st.Axis, "-120ms") || !strings.HasSuffix(st.Axis, "now") || !strings.Contains(st.Axis, "-60ms") {
		t.Errorf("axis %q", st.Axis)
	}
}

func TestStripCoarseCellsTakeTheMajority(t *testing.T) {
	m := New(Options{})
	m.Update(windowsSnap(), live.Stats{})
	m.SetStep(5 * time.Millisecond)
	st := m.Strip(20) // cells of 5 ms over 0–100 ms
	// 10–15 fully out, 15–20 1 ms out (active), 40–45 out, 45–50 active,
	// 60–80 idle, 95–100 out.
	want := "AAOAAAAAOAAAIIIIAAAO"
	if got := cellsString(st.Cells); got != want {
		t.Errorf("cells\n got %q\nwant %q", got, want)
	}
}

func TestStripNoData(t *testing.T) {
	m := New(Options{})
	st := m.Strip(10)
	if cellsString(st.Cells) != strings.Repeat(" ", 10) || st.Now != "no data yet" {
		t.Errorf("empty strip: %q %q", cellsString(st.Cells), st.Now)
	}
	if len(m.Strip(0).Cells) != 0 {
		t.Error("zero-width strip has cells")
	}
}

func TestZoomClamps(t *testing.T) {
	m := New(Options{})
	if m.Step() != ZoomSteps[DefaultZoom] {
		t.Fatalf("default step %v", m.Step())
	}
	for range 20 {
		m.ZoomIn()
	}
	if m.Step() != ZoomSteps[0] {
		t.Errorf("zoomed in to %v", m.Step())
	}
	for range 20 {
		m.ZoomOut()
	}
	if m.Step() != ZoomSteps[len(ZoomSteps)-1] {
		t.Errorf("zoomed out to %v", m.Step())
	}
	m.SetStep(3 * time.Millisecond)
	if m.Step() != 5*time.Millisecond {
		t.Errorf("SetStep(3ms) = %v", m.Step())
	}
}

func TestVerdict(t *testing.T) {
	ts := gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, Period: 12400 * time.Microsecond,
		ScheduleShare: 0.484, ScheduleShareErr: 0.003, VFs: 2, Mode: gaps.ModeFixed, Confidence: 0.95}
	// The measured share equals the schedule's here.
	snap := func(ts gaps.Timeslice) *gaps.Snapshot {
		sh := gaps.ShareEstimate{Ratio: ts.ScheduleShare, Err: ts.ScheduleShareErr, Resolved: ts.Detected, Busy: time.Second, Windows: 80}
		if !ts.Detected {
			sh.Reason = ts.Reason
		}
		return &gaps.Snapshot{Start: 0, End: 1e9, Timeslice: ts, Recent: ts, Share: sh}
	}
	cases := []struct {
		name   string
		opts   Options
		ts     gaps.Timeslice
		level  Level
		substr string
	}{
		{"below", Options{Expect: 0.5, ExpectText: "1/2"}, ts, LevelBelow, "expected 1/2 (50.0%): FAIL, 1.6 pp below"},
		{"within a tight error", Options{Expect: 0.5, ExpectText: "1/2"}, withErr(withShare(ts, 0.497), 0.002), LevelOK, "expected 1/2 (50.0%): PASS"},
		{"within a wide error", Options{Expect: 0.5, ExpectText: "1/2"}, withErr(ts, 0.01), LevelLow, "expected 1/2 (50.0%): UNDETERMINED"},
		{"met", Options{Expect: 0.45, ExpectText: "45%"}, ts, LevelOK, "expected 45%: PASS"},
		{"no expectation", Options{}, ts, LevelInfo, "share 48.4% ± 0.3 pp"},
		{"tiny error", Options{}, withErr(ts, 4e-6), LevelInfo, "share 48.4% ± <0.01 pp"},
		{"no error", Options{}, withErr(ts, 0), LevelInfo, "share 48.4% ± 0 pp"},
		{"low confidence", Options{Expect: 0.45}, withConf(ts, 0.3), LevelOK, "(low confidence)"},
		{"none", Options{Expect: 0.5, ExpectText: "0.5"}, gaps.Timeslice{Reason: "too few windows"}, LevelLow, "share unresolved  expected 0.5 (50.0%): UNDETERMINED · too few windows"},
	}
	for _, c := range cases {
		m := New(c.opts)
		m.Update(snap(c.ts), live.Stats{})
		v := m.Verdict()
		if v.Level != c.level || !strings.Contains(v.Share+" "+v.Schedule, c.substr) {
			t.Errorf("%s: level %v share %q schedule %q, want %v containing %q", c.name, v.Level, v.Share, v.Schedule, c.level, c.substr)
		}
	}
	m := New(Options{})
	m.Update(snap(ts), live.Stats{})
	if v := m.Verdict(); v.Schedule != "schedule 48.4%: slice 6ms ± 0 · period 12.4ms · 2 VFs · fixed · confidence 0.95" || v.Recent != "" {
		t.Errorf("schedule %q recent %q", v.Schedule, v.Recent)
	}
	if v := New(Options{}).Verdict(); v.Level != LevelNone || !strings.Contains(v.Share, "waiting") {
		t.Errorf("no snapshot: %+v", v)
	}
}

func withShare(ts gaps.Timeslice, r float64) gaps.Timeslice { ts.ScheduleShare = r; return ts }
func withErr(ts gaps.Timeslice, e float64) gaps.Timeslice   { ts.ScheduleShareErr = e; return ts }
func withConf(ts gaps.Timeslice, c float64) gaps.Timeslice  { ts.Confidence = c; return ts }

func TestHist(t *testing.T) {
	h := gaps.Histogram{
		Bounds: []time.Duration{1023, 2047, 4095, 8191, 16383},
		Counts: []uint64{0, 10, 0, 40, 5, 1},
	}
	m := New(Options{})
	m.Update(&gaps.Snapshot{Gaps: h, Threshold: 5000, End: 1}, live.Stats{})
	bars := m.Hist(10)
	if len(bars) != 5 {
		t.Fatalf("%d bars, want 5 (buckets 1..5)", len(bars))
	}
	lg := func(n float64) float64 { return math.Log1p(n) / math.Log1p(40) }
	want := []Bar{
		{"≤2.05µs", 10, lg(10), false},
		{"≤4.1µs", 0, 0, false},
		{"≤8.19µs", 40, 1, true},
		{"≤16.4µs", 5, lg(5), true},
		{">16.4µs", 1, lg(1), true},
	}
	for i := range want {
		if bars[i] != want[i] {
			t.Errorf("bar %d = %+v, want %+v", i, bars[i], want[i])
		}
	}
	merged := m.Hist(2) // 5 buckets in 2 rows: 3 per bar
	if len(merged) != 2 || merged[0].Count != 50 || merged[1].Count != 6 {
		t.Errorf("merged: %+v", merged)
	}
	var sum uint64
	for _, b := range m.Hist(3) {
		sum += b.Count
	}
	if sum != 56 {
		t.Errorf("merged bars hold %d, want 56", sum)
	}
}

func TestRatesPauseReset(t *testing.T) {
	m := New(Options{})
	s1 := &gaps.Snapshot{Start: 0, End: 1e9, Input: gaps.Input{Events: 100}, Rings: []gaps.RingStats{{Name: "gfx", Jobs: 1000}}}
	m.Update(s1, live.Stats{})
	if r := m.Rings()[0].JobsPerSec; r != "-" {
		t.Errorf("rate before a second snapshot = %q", r)
	}
	s2 := &gaps.Snapshot{Start: 0, End: 1.5e9, Input: gaps.Input{Events: 200}, Rings: []gaps.RingStats{{Name: "gfx", Jobs: 2000, Busy: 750 * time.Millisecond}}}
	m.Update(s2, live.Stats{})
	if r := m.Rings()[0]; r.JobsPerSec != "2k" || r.Busy != "50.0%" {
		t.Errorf("row %+v, want 2k jobs/s, busy 50%%", r)
	}
	m.TogglePause()
	m.Update(&gaps.Snapshot{End: 9e9}, live.Stats{})
	if m.Snapshot() != s2 || m.Status() != "PAUSED" {
		t.Error("a paused model took a snapshot")
	}
	m.TogglePause()
	// the source was reset: fewer events than before
	s3 := &gaps.Snapshot{Start: 2e9, End: 2.1e9, Input: gaps.Input{Events: 5}, Rings: []gaps.RingStats{{Name: "gfx", Jobs: 3}}}
	m.Update(s3, live.Stats{})
	if r := m.Rings()[0].JobsPerSec; r != "-" {
		t.Errorf("rate after reset = %q", r)
	}
	m.Update(&gaps.Snapshot{Start: 2e9, End: 2.6e9, Input: gaps.Input{Events: 9}, Rings: []gaps.RingStats{{Name: "gfx", Jobs: 503}}}, live.Stats{})
	if r := m.Rings()[0].JobsPerSec; r != "1k" {
		t.Errorf("rate after reset and 0.5 s = %q, want 1k", r)
	}
}

func TestStatus(t *testing.T) {
	m := New(Options{})
	m.Update(&gaps.Snapshot{}, live.Stats{Done: true})
	if m.Status() != "ENDED" {
		t.Errorf("status %q", m.Status())
	}
	m.Update(&gaps.Snapshot{}, live.Stats{Done: true, Err: errors.New("read failed")})
	if m.Status() != "ERROR: read failed" {
		t.Errorf("status %q", m.Status())
	}
	m.Update(&gaps.Snapshot{}, live.Stats{Warnings: []string{"pushing metrics to http://vm: 403 (3 pushes failed)", "other"}})
	if m.Status() != "WARN: pushing metrics to http://vm: 403 (3 pushes failed)" {
		t.Errorf("status %q", m.Status())
	}
	m.Update(&gaps.Snapshot{Start: 0, End: 2e9}, live.Stats{Source: "tracefs", Rate: 12345, Lost: 7, Uptime: 61 * time.Second})
	if h := m.Header(); h != "gpuwatch · tracefs · 12.3k ev/s · lost 7 · up 1:01 · trace 2s" {
		t.Errorf("header %q", h)
	}
}

func TestProcs(t *testing.T) {
	m := New(Options{})
	m.Update(&gaps.Snapshot{End: 1e9, Rings: []gaps.RingStats{
		{Name: "gfx", Processes: []gaps.ProcessStats{{Comm: "a", PID: 1, Jobs: 5}, {Comm: "b", PID: 2, Jobs: 50}, {Jobs: 9}}},
		{Name: "sdma0", Processes: []gaps.ProcessStats{{Comm: "a", PID: 1, Jobs: 5}}},
	}}, live.Stats{})
	got := m.Procs(10)
	if len(got) != 3 || got[0].Process != "b[2]" || got[1].Ring != "gfx" || got[2].Ring != "sdma0" {
		t.Errorf("procs %+v", got)
	}
	if len(m.Procs(1)) != 1 {
		t.Error("Procs(1) returned more than one row")
	}
}

func TestFitTable(t *testing.T) {
	rows := [][]string{{"ring", "jobs/s", "jobs", "p99"}, {"comp_1.0.0", "12.3k", "1.2M", "7ms"}}
	got := FitTable(rows, 40, []int{2})
	want := []string{"ring       jobs/s jobs p99", "comp_1.0.0  12.3k 1.2M 7ms"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("wide:\n%s", strings.Join(got, "\n"))
	}
	got = FitTable(rows, 22, []int{2})
	want = []string{"ring       jobs/s p99", "comp_1.0.0  12.3k 7ms"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dropped:\n%s", strings.Join(got, "\n"))
	}
	got = FitTable(rows, 18, []int{2})
	want = []string{"ring    jobs/s p99", "comp_1…  12.3k 7ms"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("truncated:\n%s", strings.Join(got, "\n"))
	}
}

// TestHalfAgainstTruth runs the engine on a generated 1/2 schedule and
// checks what the model shows against the generator's ground truth: the
// share and, cell by cell, the strip.
func TestHalfAgainstTruth(t *testing.T) {
	sc := tuitest.Half(3 * time.Second)
	evs, tr := tuitest.Events(t, sc)
	end := tuitest.IntoWindow(&tr, int64(sc.Start+2900*time.Millisecond), 2*time.Millisecond)
	if end < 0 {
		t.Fatalf("no switched-out window in %d true windows", len(tr.Windows))
	}
	m := New(Options{Expect: 0.5, ExpectText: "1/2"})
	m.Update(tuitest.Snapshot(evs, end), live.Stats{})
	ts := m.Snapshot().Timeslice
	trueShare := tr.Share
	if !ts.Detected || math.Abs(ts.ScheduleShare-trueShare) > 0.005 {
		t.Fatalf("share %.4f (detected %v), truth %.4f", ts.ScheduleShare, ts.Detected, trueShare)
	}
	m.SetStep(500 * time.Microsecond)
	const n = 400 // 200 ms
	st := m.Strip(n)
	agree := 0
	from := end - n*int64(st.Step)
	for k, c := range st.Cells {
		mid := from + int64(k)*int64(st.Step) + int64(st.Step)/2
		on := tuitest.Active(&tr, mid)
		if on == (c == CellActive) {
			agree++
		}
	}
	// Observed windows run past the true off-time by the job straddling
	// the switch (≤ ~0.3 ms of 6.4): allow one cell per window edge.
	if frac := float64(agree) / n; frac < 0.9 {
		t.Errorf("strip agrees with the true schedule on %.1f%% of cells:\n%s", 100*frac, cellsString(st.Cells))
	}
	if st.NowCell != CellSwitchedOut {
		t.Errorf("the snapshot ends 2 ms into an off-time; now = %q", st.Now)
	}
}

// TestProcsTopN: the bounded selection equals a full sort.
func TestProcsTopN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	snap := &gaps.Snapshot{End: 1e9}
	type key struct {
		name string
		jobs uint64
	}
	var all []ProcRow
	for r := 0; r < 5; r++ {
		rs := gaps.RingStats{Name: fmt.Sprintf("ring%d", r)}
		for p := 0; p < 300; p++ {
			ps := gaps.ProcessStats{Comm: fmt.Sprintf("t%d", rng.IntN(50)), PID: int32(rng.IntN(5)), Jobs: uint64(rng.IntN(40))}
			rs.Processes = append(rs.Processes, ps)
		}
		snap.Rings = append(snap.Rings, rs)
	}
	m := New(Options{})
	m.Update(snap, live.Stats{})
	all = m.Procs(10000)
	if len(all) != 1500 {
		t.Fatalf("%d rows, want 1500", len(all))
	}
	for _, n := range []int{1, 7, 40} {
		got := m.Procs(n)
		for i := range got {
			if got[i] != all[i] {
				t.Fatalf("Procs(%d)[%d] = %+v, full order has %+v", n, i, got[i], all[i])
			}
		}
	}
	for i := 1; i < len(all); i++ {
		a, _ := strconv.ParseUint(all[i-1].Jobs, 10, 64)
		b, _ := strconv.ParseUint(all[i].Jobs, 10, 64)
		if a < b {
			t.Fatalf("rows %d, %d out of order: %v then %v", i-1, i, all[i-1], all[i])
		}
	}
}

// FuzzStrip: whatever the windows (unsorted, overlapping, outside the
// span), Strip returns n cells, none before the trace start, and never
// panics.
func FuzzStrip(f *testing.F) {
	f.Add(int64(0), int64(100), []byte{10, 16, 0, 40, 46, 1, 60, 80, 2}, uint8(3), uint8(120))
	f.Add(int64(50), int64(40), []byte{}, uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, start, end int64, ws []byte, zoom, n uint8) {
		s := &gaps.Snapshot{Start: start * ms, End: end * ms}
		kinds := []gaps.WindowKind{gaps.SwitchedOut, gaps.GuestIdle, gaps.Stall, "other"}
		for i := 0; i+2 < len(ws); i += 3 {
			s.Windows = append(s.Windows, gaps.Window{Start: int64(ws[i]) * ms, End: int64(ws[i+1]) * ms, Kind: kinds[int(ws[i+2])%len(kinds)], Open: i+5 >= len(ws)})
		}
		m := New(Options{})
		m.Update(s, live.Stats{})
		m.SetStep(ZoomSteps[int(zoom)%len(ZoomSteps)])
		st := m.Strip(int(n))
		if len(st.Cells) != int(n) {
			t.Fatalf("%d cells, want %d", len(st.Cells), n)
		}
		step := int64(st.Step)
		for k, c := range st.Cells {
			cellEnd := s.End - int64(int(n)-k-1)*step
			if cellEnd <= s.Start && c != CellNone {
				t.Fatalf("cell %d ends at %d before the start %d but is %v", k, cellEnd, s.Start, c)
			}
		}
		m.Hist(int(n))
		m.Verdict()
	})
}
