package tui

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata")

// fixed is a Source that returns one snapshot and fixed stats.
type fixed struct {
	mu     sync.Mutex
	snap   *gaps.Snapshot
	stats  live.Stats
	resets int
	calls  int
}

func (f *fixed) Snapshot() (*gaps.Snapshot, live.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.snap, f.stats
}

func (f *fixed) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
}

var (
	halfOnce sync.Once
	halfSnap *gaps.Snapshot
)

// half is the snapshot of 3 s of the seed's schedule, ending 2 ms into
// a switched-out window.
func half(tb testing.TB) *gaps.Snapshot {
	halfOnce.Do(func() {
		sc := tuitest.Half(3 * time.Second)
		evs, tr := tuitest.Events(tb, sc)
		end := tuitest.IntoWindow(&tr, int64(sc.Start+2900*time.Millisecond), 2*time.Millisecond)
		if end < 0 {
			tb.Fatalf("no switched-out window in %d true windows", len(tr.Windows))
		}
		halfSnap = tuitest.Snapshot(evs, end)
	})
	return halfSnap
}

func halfSource(tb testing.TB) *fixed {
	return &fixed{snap: half(tb), stats: live.Stats{Source: "replay", Uptime: 83 * time.Second, Events: 123456, Lost: 0, Rate: 31250}}
}

// dump is the screen's text, one line per row, trailing spaces trimmed.
func dump(s tcell.SimulationScreen) string {
	cells, w, h := s.GetContents()
	var b strings.Builder
	for y := 0; y < h; y++ {
		var line strings.Builder
		for x := 0; x < w; x++ {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				line.WriteByte(' ')
				continue
			}
			line.WriteString(string(c.Runes))
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// harness runs an App on a simulation screen. The interval is an hour, so
// the screen changes only on keys and resizes: every event is followed by
// exactly one draw, which the harness waits for.
type harness struct {
	t    *testing.T
	s    tcell.SimulationScreen
	a    *App
	src  *fixed
	done chan error
}

func start(t *testing.T, w, h int, src *fixed, opts Options) *harness {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(w, h)
	opts.Interval = time.Hour
	hs := &harness{t: t, s: s, a: New(s, src, opts), src: src, done: make(chan error, 1)}
	go func() { hs.done <- hs.a.Run() }()
	hs.waitDraw()
	t.Cleanup(func() {
		hs.a.Stop()
		select {
		case <-hs.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after Stop")
		}
		s.Fini()
	})
	return hs
}

func (h *harness) waitDraw() {
	h.t.Helper()
	select {
	case <-h.a.drawn:
	case err := <-h.done:
		h.t.Fatalf("Run returned early: %v", err)
	case <-time.After(5 * time.Second):
		h.t.Fatal("no draw within 5 s")
	}
}

func (h *harness) key(r rune) {
	h.t.Helper()
	h.s.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	h.waitDraw()
}

func (h *harness) resize(w, ht int) {
	h.t.Helper()
	h.s.SetSize(w, ht)
	if err := h.s.PostEvent(tcell.NewEventResize(w, ht)); err != nil {
		h.t.Fatal(err)
	}
	h.waitDraw()
}

func (h *harness) screen() string { return dump(h.s) }

func (h *harness) row(y int) string { return strings.Split(h.screen(), "\n")[y] }

// goldenSnap is a hand-built snapshot (independent of the engine, so the
// golden screens change only when the views do): 10 s of a 1/2 schedule,
// 6 ms on / 6.4 ms off, ending 2.1 ms into an open switched-out window.
func goldenSnap() *gaps.Snapshot {
	const (
		ms     = int64(time.Millisecond)
		start  = int64(1437_800_000_000)
		period = 12400 * time.Microsecond / time.Nanosecond
	)
	s := &gaps.Snapshot{
		Input: gaps.Input{Events: 2_400_000, Lost: 3},
		Start: start, Threshold: 1500 * time.Microsecond,
	}
	t := start
	for i := 0; i < 806; i++ {
		off := t + 6*ms - 250_000 // the last completion before the switch
		s.Windows = append(s.Windows, gaps.Window{Start: off, End: t + int64(period) + 200_000, Kind: gaps.SwitchedOut, InFlight: 4})
		t += int64(period)
	}
	last := &s.Windows[len(s.Windows)-1]
	s.End = last.Start + 2100_000
	last.End, last.Open = s.End, true
	s.WindowsTotal = uint64(len(s.Windows))
	s.SwitchedOutTotal = time.Duration(len(s.Windows)) * 6850 * time.Microsecond
	s.Timeslice = gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, SliceErr: 4 * time.Microsecond,
		Period: 12400 * time.Microsecond, PeriodErr: 2 * time.Microsecond, ScheduleShare: 0.4839, ScheduleShareErr: 0.0003,
		VFs: 2, SwitchCost: 200 * time.Microsecond, Mode: gaps.ModeFixed, Confidence: 0.97, Windows: 806}
	s.Recent = s.Timeslice
	s.Recent.ScheduleShare, s.Recent.Slice = 0.4851, 6015*time.Microsecond
	span := time.Duration(s.End - s.Start)
	s.Rings = []gaps.RingStats{
		{Name: "comp_1.0.0", Jobs: 120, Busy: span / 50, Stalled: span / 110, InFlight: 0, LatencyP50: 3 * time.Millisecond, LatencyP99: 9 * time.Millisecond,
			Processes: []gaps.ProcessStats{{Comm: "clpeak", PID: 3301, Jobs: 120, Busy: span / 50, Stalled: span / 110}}},
		{Name: "gfx", Jobs: 193_000, Busy: span * 97 / 100, Stalled: span * 50 / 100, InFlight: 2, LatencyP50: 501 * time.Microsecond, LatencyP99: 7050 * time.Microsecond,
			Processes: []gaps.ProcessStats{
				{Comm: "glmark2", PID: 2412, Jobs: 190_000, Busy: span * 96 / 100, Stalled: span * 50 / 100},
				{Comm: "Xorg", PID: 981, Jobs: 3_000, Busy: span / 20, Stalled: span / 40},
			}},
		{Name: "sdma0", Jobs: 80_500, Busy: span * 95 / 100, Stalled: span * 49 / 100, InFlight: 1, LatencyP50: 1230 * time.Microsecond, LatencyP99: 7840 * time.Microsecond,
			Processes: []gaps.ProcessStats{{Comm: "glmark2", PID: 2412, Jobs: 80_500, Busy: span * 95 / 100, Stalled: span * 49 / 100}}},
	}
	s.Gaps.Bounds = make([]time.Duration, 28)
	s.Gaps.Counts = make([]uint64, 29)
	for i := range s.Gaps.Bounds {
		s.Gaps.Bounds[i] = time.Duration(int64(1)<<(10+i) - 1)
	}
	for i, c := range map[int]uint64{1: 40, 3: 400, 5: 3000, 7: 140_000, 8: 60_000, 9: 900, 13: 806} {
		s.Gaps.Counts[i] = c
	}
	return s
}

func goldenSource() *fixed {
	return &fixed{snap: goldenSnap(), stats: live.Stats{Source: "replay", Uptime: 83 * time.Second, Events: 2_400_000, Lost: 3, Rate: 31250}}
}

// goldenScreens collects the screens of the golden tests, by name.
func goldenScreens(t *testing.T) map[string]string {
	t.Helper()
	screens := map[string]string{}
	expect := Options{Expect: 0.5, ExpectText: "1/2"}

	h := start(t, 80, 24, goldenSource(), expect)
	screens["half-80x24"] = h.screen()
	h.key('?')
	screens["help-80x24"] = h.screen()
	h.key('x') // any key closes help
	h.key('p')
	h.key('-')
	screens["paused-zoomed-out-80x24"] = h.screen()

	h = start(t, 120, 40, goldenSource(), Options{Expect: 0.45, ExpectText: "0.45"})
	screens["half-120x40"] = h.screen()
	h.resize(100, 30)
	screens["half-resized-120x40-to-100x30"] = h.screen()
	h.resize(30, 10)
	screens["half-resized-to-30x10"] = h.screen()

	pass := goldenSnap()
	pass.Windows, pass.WindowsTotal, pass.SwitchedOutTotal, pass.Threshold = nil, 0, 0, 0
	pass.Timeslice = gaps.Timeslice{Reason: "no-progress gaps do not separate from the normal completion spacing"}
	pass.Recent = pass.Timeslice
	pass.Gaps.Counts[13] = 0
	h = start(t, 80, 24, &fixed{snap: pass, stats: live.Stats{Source: "tracefs", Uptime: 2 * time.Second, Rate: 9000}}, expect)
	screens["passthrough-80x24"] = h.screen()

	empty := &gaps.Snapshot{Timeslice: gaps.Timeslice{Reason: "no events yet"}}
	empty.Recent = empty.Timeslice
	h = start(t, 80, 24, &fixed{snap: empty, stats: live.Stats{Source: "ebpf"}}, Options{})
	screens["empty-80x24"] = h.screen()

	h = start(t, 80, 24, &fixed{snap: goldenSnap(), stats: live.Stats{Source: "replay", Uptime: 12 * time.Second, Done: true}}, expect)
	screens["ended-80x24"] = h.screen()

	// a liquid host: turns of whole 6 ms quanta, 8.5 ms on average
	liquid := goldenSnap()
	liquid.Timeslice = gaps.Timeslice{Detected: true, Mode: gaps.ModeVariable, Slice: 6 * time.Millisecond, SliceErr: 2 * time.Microsecond,
		Turn: 8490 * time.Microsecond, TurnErr: 150 * time.Microsecond, Period: 14890 * time.Microsecond, PeriodErr: 316 * time.Microsecond, PeriodSpread: 4470 * time.Microsecond,
		ScheduleShare: 0.570, ScheduleShareErr: 0.024, VFs: 2, SwitchCost: 200 * time.Microsecond, Confidence: 0.17, Windows: 201,
		Reason: "turns last whole quanta (59 of 200 ran several: a VF whose neighbours are idle keeps the GPU, as on a liquid host)"}
	liquid.Recent = liquid.Timeslice
	h = start(t, 80, 24, &fixed{snap: liquid, stats: live.Stats{Source: "tracefs", Uptime: 3 * time.Second, Rate: 5700}}, expect)
	screens["liquid-80x24"] = h.screen()
	return screens
}

func TestGoldenScreens(t *testing.T) {
	const path = "testdata/screens.txtar"
	screens := goldenScreens(t)
	names := make([]string, 0, len(screens))
	for n := range screens {
		names = append(names, n)
	}
	sort.Strings(names)
	if *update {
		ar := &txtar.Archive{Comment: []byte("Golden screens of the TUI (text of tcell's simulation screen, trailing spaces trimmed).\nRegenerate: go test ./internal/tui -run TestGoldenScreens -update\n")}
		for _, n := range names {
			ar.Files = append(ar.Files, txtar.File{Name: n, Data: []byte(screens[n])})
		}
		if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	want := map[string]string{}
	for _, f := range ar.Files {
		want[f.Name] = string(f.Data)
	}
	for _, n := range names {
		w, ok := want[n]
		if !ok {
			t.Errorf("%s: no golden screen (run with -update)", n)
			continue
		}
		if got := screens[n]; got != w {
			t.Errorf("%s differs from %s (run with -update after checking):\n%s", n, path, diff(w, got))
		}
	}
	if len(want) != len(screens) {
		t.Errorf("%s holds %d screens, the test makes %d", path, len(want), len(screens))
	}
}

// diff shows the differing lines of two screens.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "row %2d want %q\n       got  %q\n", i, w, g)
		}
	}
	return b.String()
}

// TestScreenContent checks, independently of the golden files, what a
// person must see at 80×24.
func TestScreenContent(t *testing.T) {
	h := start(t, 80, 24, halfSource(t), Options{Expect: 0.5, ExpectText: "1/2"})
	scr := h.screen()
	for _, want := range []string{
		"replay", "31.2k ev/s", "lost 0", "up 1:23",
		"expected 1/2 (50.0%): PASS", "2 VFs", "fixed",
		"now: switched out for ",
		"gfx", "sdma0", "glmark2[2412]", "Xorg[981]",
	} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	// The engine's estimate against the generator's truth (6 / 12.4 ms).
	for _, c := range []struct {
		re    string
		truth float64
		tol   float64
	}{
		{`share (\d+\.\d)% ± `, 48.39, 0.5},
		{`slice (\d+\.?\d*)ms ± `, 6, 0.1},
		{`period (\d+\.?\d*)ms`, 12.4, 0.1},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(scr)
		if m == nil {
			t.Errorf("no %s on the screen", c.re)
			continue
		}
		if v, _ := strconv.ParseFloat(m[1], 64); math.Abs(v-c.truth) > c.tol {
			t.Errorf("%s: %v, truth %v", c.re, v, c.truth)
		}
	}
	if lost := cellsOf(h, 0, "lost 0"); lost != colText {
		t.Errorf("no loss, yet \"lost 0\" is drawn in %v", lost)
	}
	// The strip (rows 6 and 7): square wave of the world switch, in colour.
	cells, w, _ := h.s.GetContents()
	var out, act int
	for x := 1; x < w-1; x++ {
		c := cells[6*w+x]
		fg, _, _ := c.Style.Decompose()
		switch {
		case string(c.Runes) == "▒" && fg == colOut:
			out++
		case string(c.Runes) == "█" && fg == colActive:
			act++
		default:
			t.Errorf("strip cell %d: %q in %v", x, string(c.Runes), fg)
		}
	}
	// 78 cells of 1 ms over a 6 ms on / 6.4 ms off schedule: about half each.
	if out < 30 || act < 30 {
		t.Errorf("strip: %d switched-out and %d active cells of 78:\n%s\n%s", out, act, h.row(5), h.row(6))
	}
	if !strings.HasSuffix(h.row(6), "▒▒│") {
		t.Errorf("the snapshot ends inside a switched-out window, the strip does not:\n%s", h.row(6))
	}
}

func TestKeys(t *testing.T) {
	src := halfSource(t)
	h := start(t, 80, 24, src, Options{})
	title := func() string { return h.row(4) }
	if !strings.Contains(title(), "1ms/cell") {
		t.Fatalf("strip title %q", title())
	}
	h.key('+')
	if !strings.Contains(title(), "500µs/cell") {
		t.Errorf("after +: %q", title())
	}
	h.key('-')
	h.key('-')
	if !strings.Contains(title(), "2ms/cell · last 156ms") {
		t.Errorf("after + - -: %q", title())
	}

	h.key('?')
	if !strings.Contains(h.screen(), "q      quit") {
		t.Errorf("no help after ?:\n%s", h.screen())
	}
	h.key('?')
	if strings.Contains(h.screen(), "q      quit") {
		t.Errorf("help still shown after a second key")
	}

	h.key('p')
	if !strings.Contains(h.row(0), "PAUSED") {
		t.Errorf("no PAUSED after p: %q", h.row(0))
	}
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	h.key('r')
	src.mu.Lock()
	if src.resets != 1 {
		t.Errorf("r: %d resets of the source", src.resets)
	}
	if src.calls != calls+1 {
		t.Errorf("r: %d snapshots taken, want 1 fresh one", src.calls-calls)
	}
	src.mu.Unlock()
	if strings.Contains(h.row(0), "PAUSED") {
		t.Errorf("still paused after reset: %q", h.row(0))
	}

	h.s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run after q: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end Run")
	}
	h.done <- nil // for the cleanup
}

func TestCtrlCQuits(t *testing.T) {
	h := start(t, 80, 24, halfSource(t), Options{})
	h.s.InjectKey(tcell.KeyCtrlC, 0, tcell.ModCtrl)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl-C did not end Run")
	}
	h.done <- nil
}

// TestTicker: with a short interval, Run keeps taking snapshots and
// redrawing on its own, and stops taking them while paused.
func TestTicker(t *testing.T) {
	src := halfSource(t)
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	defer s.Fini()
	a := New(s, src, Options{Interval: 5 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- a.Run() }()
	for i := 0; i < 5; i++ {
		<-a.drawn
	}
	src.mu.Lock()
	n := src.calls
	src.mu.Unlock()
	if n < 3 {
		t.Errorf("%d snapshots after 5 draws", n)
	}
	a.Stop()
	a.Stop() // twice is fine
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestModelImportsNoTview keeps the model free of the screen libraries.
func TestModelImportsNoTview(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./model").CombinedOutput()
	if err != nil {
		livetest.Skip(t, "go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "tview") || strings.Contains(dep, "tcell") {
			t.Errorf("internal/tui/model imports %s", dep)
		}
	}
}

// cellsOf returns the foreground colour of text's first cell on row y
// (tcell.ColorNone when the row lacks text).
func cellsOf(h *harness, y int, text string) tcell.Color {
	i := strings.Index(h.row(y), text)
	if i < 0 {
		return tcell.ColorNone
	}
	x := len([]rune(h.row(y)[:i]))
	cells, w, _ := h.s.GetContents()
	fg, _, _ := cells[y*w+x].Style.Decompose()
	return fg
}

func TestLostEventsStandOut(t *testing.T) {
	h := start(t, 80, 24, goldenSource(), Options{}) // 3 events lost
	if c := cellsOf(h, 0, "lost 3"); c != colStall {
		t.Errorf("\"lost 3\" drawn in %v, want %v:\n%s", c, colStall, h.row(0))
	}
	if c := cellsOf(h, 0, "up 1:23"); c != colText {
		t.Errorf("the rest of the header is drawn in %v", c)
	}
}

func TestCtrlZSuspends(t *testing.T) {
	var calls int
	src := goldenSource()
	h := start(t, 80, 24, src, Options{Suspend: func() { calls++ }})
	before := h.screen()
	h.s.InjectKey(tcell.KeyCtrlZ, 0, tcell.ModCtrl)
	h.waitDraw()
	if calls != 1 {
		t.Errorf("Suspend called %d times, want 1", calls)
	}
	if after := h.screen(); after != before {
		t.Errorf("the screen after resuming differs:\n%s", diff(before, after))
	}
}

// TestLongWarningKeepsHeader: a warning's sentence in the status line is
// cut with "…" rather than drawn over the header's counts.
func TestLongWarningKeepsHeader(t *testing.T) {
	src := goldenSource()
	src.stats.Warnings = []string{"pushing metrics to http://victoria.example:8428/api/v1/import/prometheus: unexpected status code 403 (12 pushes failed)"}
	h := start(t, 100, 24, src, Options{})
	row := h.row(0)
	if !strings.Contains(row, "lost 3") || !strings.Contains(row, "up 1:23") {
		t.Errorf("the header's counts are hidden:\n%s", row)
	}
	if !strings.Contains(row, "WARN: pushing metrics") || !strings.Contains(row, "…") || !strings.Contains(row, "? help") {
		t.Errorf("the warning is not shown, cut:\n%s", row)
	}
}
