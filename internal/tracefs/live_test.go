package tracefs_test

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// openLive opens the live source on the harness's events and closes it in
// the test's cleanup (before the harness deletes the events).
func openLive(t *testing.T, h *livetest.Harness, opts tracefs.Options) *tracefs.Source {
	t.Helper()
	opts.Root = h.Root
	l, err := tracefs.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// collect reads l until Close, in a goroutine; the result arrives on the
// returned channel.
func collect(l *tracefs.Source) <-chan []event.Event {
	ch := make(chan []event.Event, 1)
	go func() {
		var evs []event.Event
		for {
			ev, err := l.Next()
			if err != nil {
				ch <- evs
				return
			}
			evs = append(evs, ev)
		}
	}()
	return ch
}

func TestLivePattern(t *testing.T) {
	for _, gen := range []tracepoint.Generation{tracepoint.GenDRM, tracepoint.Gen617, tracepoint.GenAMD} {
		t.Run(gen.String(), func(t *testing.T) {
			h := livetest.Setup(t, gen)
			// The program may be held up by other work on the machine; its
			// fired gaps are the truth either way, but the nominal slice is
			// only what it fired on a clean run: try a few times.
			for try := 1; ; try++ {
				clean := patternRun(t, h)
				if clean || try == 3 || t.Failed() {
					if !clean {
						t.Logf("the program was held up on every run: slice and share checked against the fired gaps only")
					}
					return
				}
			}
		})
	}
}

// patternRun fires 6 ms on / 6.4 ms off, 250 µs jobs, two in flight,
// for 1.5 s and checks what the live source and the engine make of it.
func patternRun(t *testing.T, h *livetest.Harness) (clean bool) {
	l, err := tracefs.Open(tracefs.Options{Root: h.Root, Events: h.Events})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	evsCh := collect(l)
	on, off, job := 6*time.Millisecond, 6400*time.Microsecond, 250*time.Microsecond
	p, err := h.RunPattern(context.Background(), 1500*time.Millisecond, on, off, job, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitRead(l, p.Fired())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	evs := <-evsCh

	// Every event fired arrives, in time order, with its fields.
	var n uint64
	eng := gaps.New(gaps.Config{})
	for i, ev := range evs {
		if ev.Kind == event.KindLost {
			t.Fatalf("lost %d events at a low rate", ev.Count)
		}
		if i > 0 && ev.Time < evs[i-1].Time {
			t.Fatalf("event %d at %d before its predecessor at %d", i, ev.Time, evs[i-1].Time)
		}
		n++
		if ev.Kind != event.KindDone && ev.Ring != "gfx" {
			t.Fatalf("event %v: ring %q, want gfx", ev, ev.Ring)
		}
		if ev.Job.IsZero() {
			t.Fatalf("event %v has no job key", ev)
		}
		eng.Feed(ev)
	}
	if n != p.Fired() {
		t.Errorf("read %d events, the program fired %d", n, p.Fired())
	}
	s := eng.Snapshot()
	ts := s.Timeslice
	t.Logf("%s: %d events, %d fired gaps, clean %v, timeslice %+v", h.Gen, n, len(p.Gaps), p.Clean(), ts)

	if !p.Clean() {
		for _, g := range p.Gaps {
			if d := time.Duration(g[1] - g[0]); d < off || d > off+2*job {
				t.Logf("the program was held up: gap of %v", d)
			}
		}
		return false
	}
	// On a clean run, each fired gap longer than 3 ms is a window, within a job at both
	// ends (where a window starts within a ring's lifecycle is the
	// engine's choice), and each window that long was fired. Shorter gaps
	// are left to the engine's threshold.
	tol, long := job+100*time.Microsecond, 3*time.Millisecond
	var fired [][2]int64
	for _, g := range p.Gaps {
		if time.Duration(g[1]-g[0]) > long {
			fired = append(fired, g)
		}
	}
	var ws []gaps.Window
	for _, w := range s.Windows {
		if (w.Kind == gaps.SwitchedOut || w.Kind == gaps.Stall) && w.Duration() > long {
			ws = append(ws, w)
		}
	}
	near := func(a, b int64) bool { return math.Abs(float64(a-b)) <= float64(tol) }
	for _, g := range fired {
		found := false
		for _, w := range ws {
			if near(w.Start, g[0]) && near(w.End, g[1]) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("fired gap %d..%d (%v) has no window", g[0], g[1], time.Duration(g[1]-g[0]))
		}
	}
	for _, w := range ws {
		found := false
		for _, g := range fired {
			if near(w.Start, g[0]) && near(w.End, g[1]) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("window %d..%d (%v, %s) was not fired", w.Start, w.End, w.Duration(), w.Kind)
		}
	}
	if !ts.Detected {
		t.Fatalf("no time slice detected on a clean run: %s", ts.Reason)
	}
	if e := math.Abs(float64(ts.Slice-on)) / float64(on); e > 0.05 {
		t.Errorf("slice %v, fired %v", ts.Slice, on)
	}
	if e := math.Abs(float64(ts.Period-p.Period())) / float64(p.Period()); e > 0.02 {
		t.Errorf("period %v, fired %v", ts.Period, p.Period())
	}
	if math.Abs(ts.ScheduleShare-p.Share()) > 0.03 {
		t.Errorf("share %.3f, fired %.3f", ts.ScheduleShare, p.Share())
	}
	return true
}

// waitRead waits until l emitted n events or stops making progress.
func waitRead(l *tracefs.Source, n uint64) {
	last, idle := l.Stats().Events, 0
	for idle < 20 && last < n {
		time.Sleep(25 * time.Millisecond)
		if cur := l.Stats().Events; cur != last {
			last, idle = cur, 0
		} else {
			idle++
		}
	}
}

// TestLiveLoad fires as fast as two programs can (one per core here) and
// closes the source the moment they end: every event fired is either read
// or reported lost, exactly, including what the kernel still buffered when
// Close came; with a tiny ring buffer the kernel drops events and the count
// still adds up.
func TestLiveLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bufferKB int
	}{{"4MiB", 4096}, {"8KiB", 8}} {
		t.Run(tc.name, func(t *testing.T) {
			h := livetest.Setup(t, tracepoint.GenDRM)
			// A slow poll: much is still in the kernel's buffers at the end.
			l := openLive(t, h, tracefs.Options{Events: h.Events, BufferKB: tc.bufferKB, Poll: 200 * time.Millisecond})
			evsCh := collect(l)
			const d = 2 * time.Second
			var fired uint64
			errs := make(chan error, 2)
			counts := make(chan uint64, 2)
			for i := 0; i < 2; i++ {
				go func() {
					n, err := h.RunLoad(context.Background(), d, 0)
					counts <- n
					errs <- err
				}()
			}
			for i := 0; i < 2; i++ {
				fired += <-counts
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			readBefore := l.Stats().Events
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			evs := <-evsCh
			var read, lost uint64
			for _, ev := range evs {
				if ev.Kind == event.KindLost {
					lost += ev.Count
				} else {
					read++
				}
			}
			st := l.Stats()
			t.Logf("fired %d (%.0f/s), read %d (%d before Close), lost %d, stats %+v", fired, float64(fired)/d.Seconds(), read, readBefore, lost, st)
			if read+lost != fired {
				t.Errorf("read %d + lost %d = %d, fired %d", read, lost, read+lost, fired)
			}
			if st.Events != read || st.Lost != lost {
				t.Errorf("stats: events %d lost %d; Next returned %d events, %d lost", st.Events, st.Lost, read, lost)
			}
		})
	}
}

// TestLiveStopDrains: events fired while nothing reads (a burst ending
// right before Stop) all come out of Next after Stop, then io.EOF.
func TestLiveStopDrains(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	l := openLive(t, h, tracefs.Options{Events: h.Events, BufferKB: 4096, Poll: time.Second})
	fired, err := h.RunLoad(context.Background(), 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	evsCh := collect(l)
	l.Stop()
	var read, lost uint64
	select {
	case evs := <-evsCh:
		for _, ev := range evs {
			if ev.Kind == event.KindLost {
				lost += ev.Count
			} else {
				read++
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Next did not end after Stop")
	}
	t.Logf("fired %d, read %d, lost %d", fired, read, lost)
	if read+lost != fired || read == 0 {
		t.Errorf("read %d + lost %d = %d, fired %d", read, lost, read+lost, fired)
	}
}

func TestLiveCloseRestores(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	before := livetest.Snapshot(h.Root)
	l, err := tracefs.Open(tracefs.Options{Root: h.Root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.Instance()); err != nil {
		t.Fatalf("instance: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Next()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("Next after Close: %v, want io.EOF", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Next")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestLiveStaleInstance: an instance whose owner is proven dead (its lock
// file under LockDir can be taken) is removed at open; one whose owner
// holds its lock, and one without a lock file, are left alone.
func TestLiveStaleInstance(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	before := livetest.Snapshot(h.Root)
	mk := func(name string, lock bool) (inst, lockPath string) {
		inst = filepath.Join(h.Root, "instances", name)
		if err := os.Mkdir(inst, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(inst) })
		if lock {
			os.MkdirAll(tracefs.LockDir, 0o755)
			lockPath = filepath.Join(tracefs.LockDir, name+".lock")
			if err := os.WriteFile(lockPath, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(lockPath) })
		}
		return inst, lockPath
	}
	// A killed run leaves its instance and an unlocked lock file.
	dead, deadLock := mk("gpuwatch-999999999-0000dead", true)
	os.WriteFile(filepath.Join(dead, "events", "gpu_scheduler", "enable"), []byte("1"), 0)
	// A running one (in some PID namespace) holds its lock.
	alive, aliveLock := mk("gpuwatch-1-00a11ve0", true)
	f, err := os.Open(aliveLock)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	// No lock file: nothing proves its owner dead.
	unknown, _ := mk("gpuwatch-2", false)

	l := openLive(t, h, tracefs.Options{})
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned instance still there: %v", err)
	}
	if _, err := os.Stat(deadLock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned instance's lock file still there: %v", err)
	}
	if got := l.Removed(); len(got) != 1 || got[0] != filepath.Base(dead) {
		t.Errorf("Removed() = %q", got)
	}
	for _, d := range []string{alive, unknown} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	l.Close()
	os.Remove(alive)
	os.Remove(unknown)
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestLiveInstanceNames: two sources at once get distinct instances, each
// with its lock file held, removed at Close.
func TestLiveInstanceNames(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	a := openLive(t, h, tracefs.Options{})
	b := openLive(t, h, tracefs.Options{})
	if a.Instance() == b.Instance() {
		t.Fatalf("both sources use %s", a.Instance())
	}
	lock := filepath.Join(tracefs.LockDir, filepath.Base(a.Instance())+".lock")
	f, err := os.Open(lock)
	if err != nil {
		t.Fatalf("lock file: %v", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		t.Errorf("the owner's lock %s could be taken while it runs", lock)
	}
	a.Close()
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Close: %v", err)
	}
}

func TestLiveRefusals(t *testing.T) {
	if os.Geteuid() != 0 {
		_, err := tracefs.Open(tracefs.Options{})
		if !errors.Is(err, tracefs.ErrNotRoot) {
			t.Fatalf("as non-root: %v, want ErrNotRoot", err)
		}
		return
	}
	root := t.TempDir()
	_, err := tracefs.Open(tracefs.Options{Root: root})
	if !errors.Is(err, tracefs.ErrNoTracefs) {
		t.Errorf("root without events: %v, want ErrNoTracefs", err)
	}
	// A tracefs with events, none of them the scheduler's.
	os.MkdirAll(filepath.Join(root, "events", "sched", "sched_switch"), 0o755)
	os.WriteFile(filepath.Join(root, "events", "sched", "sched_switch", "format"), []byte("name: sched_switch\nID: 1\n"), 0o644)
	_, err = tracefs.Open(tracefs.Options{Root: root})
	if !errors.Is(err, tracefs.ErrNoEvents) {
		t.Fatalf("no scheduler events: %v, want ErrNoEvents", err)
	}
	if got, want := err.Error(), "no gpu_scheduler or gpu_sched events in tracefs: is amdgpu or another drm_sched driver loaded?"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "instances")); err == nil {
		t.Errorf("a refused Open created instances")
	}
}

// TestLiveNowIsWatermark: Now never runs ahead of events still to come, so
// a consumer that advances its clock to Now between events (the runner,
// before every snapshot) never sees an event from its past.
func TestLiveNowIsWatermark(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	l := openLive(t, h, tracefs.Options{})
	done := make(chan struct{})
	var behind, n int
	go func() {
		defer close(done)
		for {
			now := l.Now()
			ev, err := l.Next()
			if err != nil {
				return
			}
			n++
			if ev.Time < now {
				behind++
			}
		}
	}()
	if _, err := h.RunPattern(context.Background(), 500*time.Millisecond, 6*time.Millisecond, 6400*time.Microsecond, 250*time.Microsecond, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	l.Close()
	<-done
	if n < 100 {
		t.Fatalf("read %d events", n)
	}
	if behind != 0 {
		t.Errorf("%d of %d events were earlier than Now() taken before them", behind, n)
	}
}
