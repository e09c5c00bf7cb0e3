package replay

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/input"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

// fakeClock: After advances the fake time by d at once (sleep) unless
// blocking is set, in which case its channels never fire.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	blocking bool
	sleeps   []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.sleeps = append(c.sleeps, d)
	if !c.blocking {
		c.now = c.now.Add(d)
		ch <- c.now
	}
	return ch
}

type slice struct {
	evs []event.Event
	i   int
}

func (s *slice) Next() (event.Event, error) {
	if s.i >= len(s.evs) {
		return event.Event{}, io.EOF
	}
	s.i++
	return s.evs[s.i-1], nil
}

func at(ts ...int64) *slice {
	s := &slice{}
	for _, t := range ts {
		s.evs = append(s.evs, event.Event{Time: t, Kind: event.KindDone})
	}
	return s
}

const ms = int64(time.Millisecond)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPacing(t *testing.T) {
	clk := &fakeClock{now: epoch}
	t0 := int64(1437 * time.Second)
	s := NewWithClock(at(t0, t0+10*ms, t0+30*ms, t0+30*ms, t0+100*ms), 2, clk)
	want := []time.Duration{0, 5 * time.Millisecond, 15 * time.Millisecond, 15 * time.Millisecond, 50 * time.Millisecond}
	for i, w := range want {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got := clk.Now().Sub(epoch); got != w {
			t.Errorf("event %d (trace +%v) released at +%v, want +%v", i, time.Duration(ev.Time-t0), got, w)
		}
		if now := s.Now(); now != ev.Time {
			t.Errorf("event %d: Now() = %d right after its release, want %d", i, now, ev.Time)
		}
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("after the last event: %v, want io.EOF", err)
	}
	if len(clk.sleeps) != 3 { // the equal timestamps do not sleep
		t.Errorf("slept %v, want three sleeps", clk.sleeps)
	}
}

func TestAsFastAsPossible(t *testing.T) {
	for _, speed := range []float64{0, -1} {
		clk := &fakeClock{now: epoch}
		s := NewWithClock(at(0, 5*ms, 7*ms), speed, clk)
		n := 0
		for {
			_, err := s.Next()
			if err == io.EOF {
				break
			}
			n++
		}
		if n != 3 || len(clk.sleeps) != 0 || s.Now() != 7*ms {
			t.Errorf("speed %v: %d events, sleeps %v, Now %d", speed, n, clk.sleeps, s.Now())
		}
	}
}

// TestNowWhileWaiting: while Next waits for an event's time, Now follows
// the wall clock at speed× (so an open window shows as open), but never
// passes the waiting event; Close unblocks Next.
func TestNowWhileWaiting(t *testing.T) {
	clk := &fakeClock{now: epoch, blocking: true}
	s := NewWithClock(at(100*ms, 110*ms), 2, clk)
	if s.Now() != 0 {
		t.Errorf("Now before the first event = %d", s.Now())
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Next() // waits: due at epoch+5ms, the clock never fires
		errc <- err
	}()
	for { // wait until Next has read the event and sleeps
		clk.mu.Lock()
		n := len(clk.sleeps)
		clk.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	clk.set(epoch.Add(4 * time.Millisecond))
	if got := s.Now(); got != 108*ms {
		t.Errorf("Now at wall +4ms = %v ms, want 108", got/ms)
	}
	clk.set(epoch.Add(6 * time.Millisecond))
	if got := s.Now(); got != 110*ms {
		t.Errorf("Now at wall +6ms = %v ms, want 110 (clamped to the pending event)", got/ms)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != io.EOF {
			t.Errorf("Next after Close: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Next")
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
}

func TestRealClock(t *testing.T) {
	s := New(at(0, 20*ms, 40*ms), 1)
	start := time.Now()
	for {
		if _, err := s.Next(); err == io.EOF {
			break
		}
	}
	// A lower bound only (no timing assertion on an upper bound): pacing
	// at speed 1 cannot release 40 ms of trace in less than 40 ms minus the slack.
	if el := time.Since(start); el < 40*time.Millisecond-slack {
		t.Errorf("40 ms of trace replayed in %v at speed 1", el)
	}
}

const openReport = `cpus=2
          <idle>-0     [000]  1437.000001: drm_sched_process_job: fence=0xffff9a3b40000240 signaled
         glmark2-2211  [001]  1437.000002: drm_sched_job:        entity=0xffff88812c4a0000, id=7, fence=0xffff9a3b40000540, ring=gfx, job count:2, hw job count:1
          <idle>-0     [000]  1437.000003: drm_sched_process_job: fence=0xffff9a3b40000540 signaled
`

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "t.report")
	if err := os.WriteFile(plain, []byte(openReport), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "t.report.gz")
	f, _ := os.Create(gz)
	zw := gzip.NewWriter(f)
	zw.Write([]byte(openReport))
	zw.Close()
	f.Close()
	for _, p := range []string{plain, gz} {
		s, err := Open(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for {
			ev, err := s.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
			got = append(got, ev.Time)
		}
		if fmt.Sprint(got) != "[1437000001000 1437000002000 1437000003000]" {
			t.Errorf("%s: %v", p, got)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty, 1); err == nil || !strings.Contains(err.Error(), "empty input") {
		t.Errorf("empty input: %v", err)
	}
	notReport := filepath.Join(dir, "notes.txt")
	os.WriteFile(notReport, []byte("shopping list\nmilk\neggs\n"), 0o644)
	if _, err := Open(notReport, 1); !errors.Is(err, reporttext.ErrNotReport) || !strings.Contains(err.Error(), notReport) {
		t.Errorf("not a report: %v, want reporttext.ErrNotReport naming the file", err)
	}
	// A report whose lines are all malformed: the error says which line
	// and what was expected (analyze prints the same warnings).
	malformed := filepath.Join(dir, "malformed.report")
	os.WriteFile(malformed, []byte("cpus=2\n   foo-1 [000] 1.000000: drm_run_job: garbage here\nnot a line at all\n"), 0o644)
	if _, err := Open(malformed, 1); !errors.Is(err, input.ErrNoGPUEvents) ||
		!strings.Contains(err.Error(), "2 line(s) skipped") || !strings.Contains(err.Error(), malformed+":2: expected") {
		t.Errorf("all lines malformed: %v, want the first skipped line named", err)
	}
	// Other events only: the error says what was seen and how to record.
	other := filepath.Join(dir, "sched.report")
	os.WriteFile(other, []byte("cpus=1\n          <idle>-0     [000]  1.000001: sched_switch:         prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=a next_pid=1 next_prio=120\n"), 0o644)
	if _, err := Open(other, 1); !errors.Is(err, input.ErrNoGPUEvents) || !strings.Contains(err.Error(), "saw 1 sched_switch line") ||
		!strings.Contains(err.Error(), input.RecordHint) {
		t.Errorf("no GPU events: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), 1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestOpenReport replays real report text (gzip-compressed) written by the
// reporttext writer from generated events, and gets the same events back.
func TestOpenReport(t *testing.T) {
	evs, _ := tuitest.Events(t, tuitest.Half(200*time.Millisecond))
	path := filepath.Join(t.TempDir(), "half.report.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := reporttext.NewWriter(zw, reporttext.WriterOptions{Gen: tracepoint.GenDRM, Nanoseconds: true, CPUs: 2})
	for _, ev := range evs {
		if err := tw.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()

	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	i := 0
	for ; ; i++ {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(evs) {
			t.Fatalf("more events replayed than written (%d)", len(evs))
		}
		if w := evs[i]; ev.Time != w.Time || ev.Kind != w.Kind || ev.Job.Fence != w.Job.Fence {
			t.Fatalf("event %d: %v, want %v", i, ev, w)
		}
	}
	if i != len(evs) {
		t.Errorf("replayed %d events, wrote %d", i, len(evs))
	}
}
