package tui

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
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
func half() *gaps.Snapshot {
	halfOnce.Do(func() {
		sc := tuitest.Half(3 * time.Second)
		turns := int64(2900*time.Millisecond) / int64(sc.Period)
		end := sc.Start + turns*int64(sc.Period) + int64(sc.Slice) + int64(2*time.Millisecond)
		halfSnap = sc.Snapshot(end)
	})
	return halfSnap
}

func halfSource() *fixed {
	return &fixed{snap: half(), stats: live.Stats{Source: "replay", Uptime: 83 * time.Second, Events: 123456, Lost: 0, Rate: 31250}}
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

// goldenScreens collects the screens of the golden tests, by name.
func goldenScreens(t *testing.T) map[string]string {
	t.Helper()
	screens := map[string]string{}
	expect := Options{Expect: 0.5, ExpectText: "1/2"}

	h := start(t, 80, 24, halfSource(), expect)
	screens["half-80x24"] = h.screen()
	h.key('?')
	screens["help-80x24"] = h.screen()
	h.key('x') // any key closes help
	h.key('p')
	h.key('-')
	screens["paused-zoomed-out-80x24"] = h.screen()

	h = start(t, 120, 40, halfSource(), Options{Expect: 0.45, ExpectText: "0.45"})
	screens["half-120x40"] = h.screen()
	h.resize(100, 30)
	screens["half-resized-120x40-to-100x30"] = h.screen()
	h.resize(30, 10)
	screens["half-resized-to-30x10"] = h.screen()

	pass := tuitest.Half(2 * time.Second)
	pass.Period, pass.Slice = 0, 0
	h = start(t, 80, 24, &fixed{snap: pass.Snapshot(0), stats: live.Stats{Source: "tracefs", Uptime: 2 * time.Second, Rate: 9000}}, expect)
	screens["passthrough-80x24"] = h.screen()

	empty := gaps.New(gaps.Config{Horizon: 10 * time.Second}).Snapshot()
	h = start(t, 80, 24, &fixed{snap: empty, stats: live.Stats{Source: "ebpf"}}, Options{})
	screens["empty-80x24"] = h.screen()
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
	h := start(t, 80, 24, halfSource(), Options{Expect: 0.5, ExpectText: "1/2"})
	scr := h.screen()
	for _, want := range []string{
		"replay", "31.2k ev/s", "lost 0", "up 1:23",
		"share 48.4%", "expected 1/2 (50.0%): BELOW",
		"slice 6ms", "period 12.4ms", "2 VFs", "fixed",
		"now: switched out for 2",
		"gfx", "sdma0", "glmark2[2412]", "Xorg[981]",
	} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
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
	src := halfSource()
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
	h := start(t, 80, 24, halfSource(), Options{})
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
	src := halfSource()
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
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "tview") || strings.Contains(dep, "tcell") {
			t.Errorf("internal/tui/model imports %s", dep)
		}
	}
}
